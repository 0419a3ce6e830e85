//! `hookplan sandbox start` as its own process, as a user runs it: its banner read for the
//! URL, its console kept for the tests to read, and the process killed when dropped.

use super::{Scratch, hookplan};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

pub struct CliSandbox {
    pub child: Child,
    pub url: String,
    pub console: Arc<Mutex<String>>,
}

impl CliSandbox {
    /// `hookplan sandbox start --port 0 --name NAME ARGS…` in the scratch folder.
    pub fn start(s: &Scratch, name: &str, args: &[&str]) -> Self {
        let mut child = hookplan()
            .current_dir(s.path())
            .args(["sandbox", "start", "--port", "0", "--name", name])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let console = Arc::new(Mutex::new(String::new()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut url = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            console.lock().unwrap().push_str(&format!("{line}\n"));
            if let Some(at) = line.find("http://") {
                url = Some(line[at..].split_whitespace().next().unwrap().to_string());
            }
            if line.contains("Press Ctrl+C") {
                break;
            }
        }
        let into = console.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                into.lock().unwrap().push_str(&format!("{line}\n"));
            }
        });
        Self {
            child,
            url: url.expect("the banner names the URL"),
            console,
        }
    }

    /// The environment that points hookplan's implicit `infisical` store at this sandbox.
    pub fn infisical_env(&self, client_secret: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "INFISICAL_API_URL",
                self.url.replace("localhost", "127.0.0.1"),
            ),
            ("INFISICAL_PROJECT_ID", "demo-project".to_string()),
            ("INFISICAL_ENVIRONMENT", "prod".to_string()),
            ("INFISICAL_CLIENT_ID", "demo-client".to_string()),
            ("INFISICAL_CLIENT_SECRET", client_secret.to_string()),
        ]
    }
}

impl Drop for CliSandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
