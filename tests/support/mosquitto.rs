//! Debian's mosquitto for real on 127.0.0.1 (which `.ci/run` installs), and its own
//! `mosquitto_sub` as a persistent subscriber.

use super::postgres::free_port;
use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A mosquitto on 127.0.0.1, stopped when dropped.
pub struct Broker {
    pub port: u16,
    config: PathBuf,
    child: Option<Child>,
}

impl Broker {
    /// Starts one on a free port; `persistence` keeps sessions and queued messages in `dir`
    /// across a restart.
    pub fn start(dir: &Path, persistence: bool) -> Self {
        let port = free_port();
        let config = dir.join("mosquitto.conf");
        let data = dir.join("mosquitto-data");
        std::fs::create_dir_all(&data).unwrap();
        let mut text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nuser root\nmax_queued_messages 100000\n"
        );
        if persistence {
            text.push_str(&format!(
                "persistence true\npersistence_location {}/\n",
                data.display()
            ));
        } else {
            text.push_str("persistence false\n");
        }
        std::fs::write(&config, text).unwrap();
        let mut broker = Self {
            port,
            config,
            child: None,
        };
        broker.up();
        broker
    }

    pub fn up(&mut self) {
        // Debian puts it in /usr/sbin, which is not on every PATH.
        let program = if Path::new("/usr/sbin/mosquitto").exists() {
            "/usr/sbin/mosquitto"
        } else {
            "mosquitto"
        };
        let child = Command::new(program)
            .arg("-c")
            .arg(&self.config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto is installed (apt-get install -y mosquitto mosquitto-clients)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mosquitto did not come up");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGSTOP: the broker keeps its connections open and acknowledges nothing, so whatever
    /// is published now stays in flight.
    pub fn freeze(&self) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(
            Command::new("kill")
                .args(["-STOP", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    /// SIGTERM, waited for: mosquitto saves its sessions and queued messages and exits, the
    /// way an operator restarts it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = child.id().to_string();
            assert!(
                Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .unwrap()
                    .success()
            );
            let _ = child.wait();
        }
    }

    /// SIGKILL: gone with everything it had not acknowledged, the way a crash goes.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `mosquitto_sub -c -i ID -q 1 -t 'webhook/#' -v`: Debian's own persistent QoS 1 subscriber,
/// its output in a file (it flushes every line).
pub struct MosquittoSub {
    pub output: PathBuf,
    child: Child,
}

impl MosquittoSub {
    pub fn start(port: u16, dir: &Path) -> Self {
        let output = dir.join("mosquitto_sub.txt");
        let child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string()])
            .args(["-c", "-i", &format!("ci-sub-{port}"), "-q", "1"])
            .args(["-t", "webhook/#", "-v"])
            .stdout(std::fs::File::create(&output).unwrap())
            .stderr(Stdio::null())
            .spawn()
            .expect("mosquitto_sub is installed (apt-get install -y mosquitto-clients)");
        let sub = Self { output, child };
        // Subscribed once a message published now reaches it.
        let deadline = Instant::now() + Duration::from_secs(10);
        while !std::fs::read_to_string(&sub.output)
            .unwrap_or_default()
            .contains("webhook/ready")
        {
            assert!(Instant::now() < deadline, "mosquitto_sub did not subscribe");
            let _ = Command::new("mosquitto_pub")
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["-q", "1", "-t", "webhook/ready", "-m", "{}"])
                .status();
            std::thread::sleep(Duration::from_millis(100));
        }
        sub
    }

    /// Distinct message ids seen per topic (the probe's `webhook/ready` aside).
    pub fn ids(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        for line in text.lines() {
            let Some((topic, payload)) = line.split_once(' ') else {
                continue;
            };
            if topic == "webhook/ready" {
                continue;
            }
            let payload: serde_json::Value = serde_json::from_str(payload).unwrap();
            ids.entry(topic.to_string())
                .or_default()
                .insert(payload["message_id"].as_str().unwrap().to_string());
        }
        ids
    }

    pub fn wait_for(&self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.ids().values().map(BTreeSet::len).sum::<usize>() < n && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for MosquittoSub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
