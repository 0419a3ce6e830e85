//! MQTT for real: throwaway mosquitto brokers on 127.0.0.1 (Debian's `mosquitto`, which
//! `.ci/run` installs), the real binary, and a persistent QoS 1 subscriber.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use support::mosquitto::{Broker, MosquittoSub};
use support::postgres::free_port;
use support::server::{Answer, TestServer};
use support::{Scratch, hookplan};

/// A persistent QoS 1 subscriber to `webhook/#` (clean session off, a fixed client id), that
/// keeps reconnecting while the broker is away and collects every payload by topic.
struct Subscriber {
    seen: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Subscriber {
    fn start(port: u16) -> Self {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let subscribed = Arc::new((Mutex::new(false), Condvar::new()));
        let (into, halt, ready) = (seen.clone(), stop.clone(), subscribed.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let mut options =
                    rumqttc::MqttOptions::new(format!("test-sub-{port}"), "127.0.0.1", port);
                options.set_clean_session(false);
                options.set_keep_alive(Duration::from_secs(5));
                let (client, mut events) = rumqttc::AsyncClient::new(options, 100);
                client
                    .subscribe("webhook/#", rumqttc::QoS::AtLeastOnce)
                    .await
                    .unwrap();
                while !halt.load(std::sync::atomic::Ordering::Relaxed) {
                    match tokio::time::timeout(Duration::from_millis(200), events.poll()).await {
                        Err(_) => {}
                        Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack))))
                            if !ack.session_present =>
                        {
                            // A broker that lost its sessions (a crash) lost the subscription.
                            let _ = client.try_subscribe("webhook/#", rumqttc::QoS::AtLeastOnce);
                        }
                        Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)))) => {
                            *ready.0.lock().unwrap() = true;
                            ready.1.notify_all();
                        }
                        Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(p)))) => {
                            let payload = serde_json::from_slice(&p.payload).unwrap();
                            into.lock().unwrap().push((p.topic.clone(), payload));
                        }
                        Ok(Ok(_)) => {}
                        Ok(Err(_)) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            });
        });
        let (lock, ready) = &*subscribed;
        let guard = ready
            .wait_timeout_while(lock.lock().unwrap(), Duration::from_secs(10), |s| !*s)
            .unwrap()
            .0;
        assert!(*guard, "the subscriber was not subscribed within 10 s");
        Self { seen, stop }
    }

    /// Distinct message ids seen per topic.
    fn ids(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (topic, payload) in self.seen.lock().unwrap().iter() {
            ids.entry(topic.clone())
                .or_default()
                .insert(payload["message_id"].as_str().unwrap().to_string());
        }
        ids
    }

    fn distinct(&self) -> usize {
        self.ids().values().map(BTreeSet::len).sum()
    }

    /// Waits until `n` distinct messages arrived (or `limit` passed).
    fn wait_for(&self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.distinct() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn payloads(&self) -> Vec<(String, serde_json::Value)> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Gates reached and gates opened, and a signal when either changes.
type Gates = (Mutex<(BTreeSet<u32>, BTreeSet<u32>)>, Condvar);

/// An HTTP server whose `/gate/N` answers only once the test opened gate N; every other path
/// answers 200 at once. It counts the gates that were reached.
struct GatedServer {
    url: String,
    gates: Arc<Gates>,
}

impl GatedServer {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        // (reached, open)
        let gates = Arc::new((
            Mutex::new((BTreeSet::new(), BTreeSet::new())),
            Condvar::new(),
        ));
        let shared = gates.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let gates = shared.clone();
                std::thread::spawn(move || serve(stream, &gates));
            }
        });
        Self { url, gates }
    }

    fn wait_reached(&self, gate: u32, limit: Duration) {
        let (lock, changed) = &*self.gates;
        let guard = changed
            .wait_timeout_while(lock.lock().unwrap(), limit, |(reached, _)| {
                !reached.contains(&gate)
            })
            .unwrap()
            .0;
        assert!(guard.0.contains(&gate), "gate {gate} was never reached");
    }

    fn open(&self, gate: u32) {
        let (lock, changed) = &*self.gates;
        lock.lock().unwrap().1.insert(gate);
        changed.notify_all();
    }
}

fn serve(stream: TcpStream, gates: &Gates) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = std::io::Read::read_exact(&mut reader, &mut body);
        let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
        if let Some(n) = path.strip_prefix("/gate/") {
            let gate: u32 = n.parse().unwrap();
            let (lock, changed) = gates;
            let mut guard = lock.lock().unwrap();
            guard.0.insert(gate);
            changed.notify_all();
            while !guard.1.contains(&gate) {
                guard = changed.wait(guard).unwrap();
            }
        }
        let answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok";
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn report(scratch: &Scratch) -> serde_json::Value {
    serde_json::from_str(&scratch.read("out/report.json")).unwrap()
}

fn steps(prefix: &str, count: usize, url: &str, needs: Option<&str>) -> (String, Vec<String>) {
    let mut text = String::new();
    let mut names = Vec::new();
    for i in 0..count {
        let name = format!("{prefix}-{i:03}");
        let needs = needs.map_or(String::new(), |n| format!("needs \"{n}\"; "));
        text.push_str(&format!(
            "step \"{name}\" {{ {needs}http \"POST\" \"{url}/hook/{name}\"; }}\n"
        ));
        names.push(name);
    }
    (text, names)
}

fn gate(n: u32, url: &str, needs: &[String]) -> String {
    let needs: Vec<String> = needs.iter().map(|n| format!("\"{n}\"")).collect();
    format!(
        "step \"gate-{n}\" {{ needs {}; http \"GET\" \"{url}/gate/{n}\"; attempt-timeout \"60s\"; }}\n",
        needs.join(" ")
    )
}

/// 100 deliveries; gate 1; 50 deliveries; gate 2; 50 deliveries: 202 http steps, one attempt
/// and one result each, 404 messages. The test acts on the broker while a gate holds.
fn restart_plan(broker: &str, server: &str) -> String {
    let (first, first_names) = steps("a", 100, server, None);
    let (second, second_names) = steps("b", 50, server, Some("gate-1"));
    let (third, _) = steps("c", 50, server, Some("gate-2"));
    format!(
        "plan \"restart\" {{ jobs 4; }}\nmqtt \"events\" url=\"{broker}\" {{ qos 1; drain \"15s\"; }}\n{first}{}{second}{}{third}",
        gate(1, server, &first_names),
        gate(2, server, &second_names),
    )
}

/// `hookplan run plan.kdl` in the scratch folder, in the background.
fn spawn_run(scratch: &Scratch) -> Child {
    hookplan()
        .current_dir(scratch.path())
        .args(["run", "plan.kdl", "--time-scale", "0", "--no-progress"])
        .args(["--report-dir", "out"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_broker_restarted_mid_run_loses_no_message() {
    let scratch = Scratch::new();
    let mut broker = Broker::start(scratch.path(), true);
    let subscriber = Subscriber::start(broker.port);
    let server = GatedServer::start();
    // 100 deliveries, all of them through; the broker freezes; gate 1 opens and 50 deliveries
    // publish into the frozen broker (in flight, never acknowledged); the broker crashes and
    // restarts; gate 2 opens and 50 more deliver. 202 http steps, one attempt and one result
    // each: 404 messages, every one of them must arrive.
    scratch.write("plan.kdl", &restart_plan(&broker.url(), &server.url));
    let started = Instant::now();
    let run = spawn_run(&scratch);

    server.wait_reached(1, Duration::from_secs(20));
    subscriber.wait_for(200, Duration::from_secs(10));
    assert_eq!(
        subscriber.distinct(),
        200,
        "the first 100 deliveries are through"
    );
    broker.freeze();
    server.open(1);
    server.wait_reached(2, Duration::from_secs(20));
    // Let the second phase's messages reach the frozen broker's socket.
    std::thread::sleep(Duration::from_millis(200));
    broker.crash();
    assert_eq!(
        subscriber.distinct(),
        200,
        "nothing got through the frozen broker"
    );
    broker.up();
    server.open(2);
    let output = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    let expected = 202 * 2;
    subscriber.wait_for(expected, Duration::from_secs(15));
    let report = report(&scratch);
    assert_eq!(
        report["mqtt"]["events"],
        serde_json::json!({"published": expected, "dropped": 0, "unpublished": 0}),
        "{stderr}"
    );
    let ids = subscriber.ids();
    let requests = &ids["webhook/requests"];
    let responses = &ids["webhook/responses"];
    assert_eq!(
        (requests.len(), responses.len()),
        (202, 202),
        "every attempt and every result arrived at least once"
    );
    // Every id of the run, 1 to 404, under the run's one key.
    let all: BTreeSet<&String> = requests.iter().chain(responses).collect();
    let key = all.iter().next().unwrap().split('-').next().unwrap();
    for n in 1..=expected {
        assert!(
            all.contains(&format!("{key}-{n}")),
            "message {n} is missing"
        );
    }
    assert!(
        stderr.contains("mqtt \"events\": 404 published, 0 unpublished, 0 dropped"),
        "{stderr}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn a_broker_restarted_by_its_operator_mid_run_loses_nothing_for_mosquitto_sub() {
    let scratch = Scratch::new();
    let mut broker = Broker::start(scratch.path(), true);
    let subscriber = MosquittoSub::start(broker.port, scratch.path());
    let server = GatedServer::start();
    // 100 deliveries; the broker is stopped (SIGTERM) and 50 deliveries happen while it is
    // down; it starts again from its persistence file and the last 50 deliver: 202 steps,
    // 404 messages, each of which must reach the persistent subscriber.
    scratch.write("plan.kdl", &restart_plan(&broker.url(), &server.url));
    let run = spawn_run(&scratch);

    server.wait_reached(1, Duration::from_secs(20));
    broker.stop();
    server.open(1);
    server.wait_reached(2, Duration::from_secs(20));
    broker.up();
    server.open(2);
    let output = run.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");

    let expected = 202 * 2;
    subscriber.wait_for(expected, Duration::from_secs(20));
    let ids = subscriber.ids();
    let requests = ids.get("webhook/requests").cloned().unwrap_or_default();
    let responses = ids.get("webhook/responses").cloned().unwrap_or_default();
    assert_eq!(
        (requests.len(), responses.len()),
        (202, 202),
        "every attempt and every result reached mosquitto_sub at least once"
    );
    let all: BTreeSet<&String> = requests.iter().chain(&responses).collect();
    let key = all.iter().next().unwrap().split('-').next().unwrap();
    for n in 1..=expected {
        assert!(
            all.contains(&format!("{key}-{n}")),
            "message {n} is missing"
        );
    }
    assert_eq!(
        report(&scratch)["mqtt"]["events"],
        serde_json::json!({"published": expected, "dropped": 0, "unpublished": 0}),
        "{stderr}"
    );
}

#[test]
fn a_broker_that_never_comes_up_fails_nothing_and_counts_what_was_not_published() {
    let server = TestServer::start(&[("/hook", vec![Answer::status(200)])]);
    let scratch = Scratch::new();
    let (text, _) = steps("d", 20, &server.url, None);
    let text = text.replace("/hook/", "/hook?step=");
    let plan = format!(
        "plan \"no-broker\" {{ jobs 4; }}\nmqtt \"events\" url=\"mqtt://127.0.0.1:{}\" {{ drain \"10s\"; }}\n{text}",
        free_port()
    );
    scratch.write("plan.kdl", &plan);
    let started = Instant::now();
    let run = scratch.run_plan(&[]);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(server.total_hits(), 20);
    assert_eq!(
        report(&scratch)["mqtt"]["events"],
        serde_json::json!({"published": 0, "dropped": 0, "unpublished": 40})
    );
    assert!(
        run.stderr
            .contains("mqtt \"events\": 0 published, 40 unpublished, 0 dropped (outbox full)"),
        "{}",
        run.stderr
    );
    // No waiting for a broker that was never there: the drain (10 s) gives up on it.
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn a_full_outbox_drops_the_oldest_and_says_so() {
    let server = TestServer::start(&[("/hook", vec![Answer::status(200)])]);
    let scratch = Scratch::new();
    let (text, _) = steps("e", 10, &server.url, None);
    let text = text.replace("/hook/", "/hook?step=");
    let plan = format!(
        "plan \"small-outbox\" {{ jobs 1; }}\nmqtt \"events\" url=\"mqtt://127.0.0.1:{}\" {{ outbox 5; }}\n{text}",
        free_port()
    );
    scratch.write("plan.kdl", &plan);
    let run = scratch.run_plan(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        report(&scratch)["mqtt"]["events"],
        serde_json::json!({"published": 0, "dropped": 15, "unpublished": 5})
    );
}

fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(support::repo().join("schemas").join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

/// Credentials of every shape, short and word-like ones included.
const CANARIES: &[&str] = &[
    "0",
    "ss",
    "true",
    "POST",
    "sk_live_MqttCanary0123456789abcdef",
];

const OWN_TABLE: &str = "CREATE TABLE webhooks (code TEXT PRIMARY KEY, direction TEXT, url TEXT, method TEXT, auth TEXT, user TEXT, key TEXT, password TEXT, signing_secret TEXT, enabled TEXT);\n";

const MQTT_PASSWORD: &str = "Mqtt-Pw-CANARY-0123456789";

#[test]
fn payloads_match_their_schemas_and_hold_no_credential() {
    let server = TestServer::start(&[
        ("/echo", vec![Answer::echo()]),
        ("/down", vec![Answer::status(503)]),
    ]);
    let scratch = Scratch::new();
    let broker = Broker::start(scratch.path(), false);
    let subscriber = Subscriber::start(broker.port);
    let mut sql = OWN_TABLE.to_string();
    let mut steps = String::new();
    let q = |v: Option<&str>| v.map_or("NULL".to_string(), |v| format!("'{v}'"));
    for (i, canary) in CANARIES.iter().enumerate() {
        for (kind, creds) in [
            ("bearer", [None, Some(*canary), None]),
            ("header", [None, Some(*canary), None]),
            ("basic", [Some("svc"), None, Some(*canary)]),
        ] {
            let code = format!("{}_{i}", kind.to_uppercase());
            sql.push_str(&format!(
                "INSERT INTO webhooks (code, direction, url, method, auth, user, key, password, enabled) VALUES ('{code}', 'OUT', '{}/echo', 'POST', '{kind}', {}, {}, {}, '1');\n",
                server.url,
                q(creds[0]),
                q(creds[1]),
                q(creds[2])
            ));
            steps.push_str(&format!(
                "step \"{kind}-{i}\" {{ call \"{code}\" event=\"DONE\"; }}\n"
            ));
        }
        // One that fails, so that an alert fires too.
        steps.push_str(&format!(
            "step \"down-{i}\" {{ call \"BEARER_{i}\" event=\"DOWN\" {{ url \"{}/down\"; }}; retry \"none\"; continue-on-error #true; }}\n",
            server.url
        ));
    }
    scratch.write("webhooks.sql", &sql);
    scratch.write(
        "plan.kdl",
        &format!(
            "plan \"canary\" {{ jobs 1; }}\ndatabase \"registry\" url=\"sqlite://registry.db\" {{ seed-sql \"webhooks.sql\"; }}\nmqtt \"events\" url=\"{}\" {{ username \"hookplan\" password=\"${{secret.MQTT_PASSWORD}}\"; }}\nalerting {{ failure-rate-threshold 10.0; min-deliveries 1; channel \"mqtt\" topic=\"webhook/alerts\"; }}\n{steps}",
            broker.url()
        ),
    );
    // The broker's own password is a secret of the run too (this broker checks none).
    let run = scratch.run_plan(&[("MQTT_PASSWORD", MQTT_PASSWORD)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (path, content) in scratch.all_files() {
        assert!(
            !content.contains(MQTT_PASSWORD),
            "the broker's password in {}",
            path.display()
        );
    }
    assert!(!format!("{}{}", run.stdout, run.stderr).contains(MQTT_PASSWORD));
    let counts = &report(&scratch)["mqtt"]["events"];
    let published = counts["published"].as_u64().unwrap() as usize;
    assert_eq!(counts["unpublished"], 0, "{}", run.stderr);
    subscriber.wait_for(published, Duration::from_secs(10));
    let payloads = subscriber.payloads();
    // 20 calls: one attempt and one result each; at least the one alert.
    let per_topic = subscriber.ids();
    assert_eq!(per_topic["webhook/requests"].len(), 20);
    assert_eq!(per_topic["webhook/responses"].len(), 20);
    assert!(!per_topic["webhook/alerts"].is_empty(), "{per_topic:?}");

    let schemas = [
        ("webhook/requests", schema("mqtt-request.schema.json")),
        ("webhook/responses", schema("mqtt-response.schema.json")),
        ("webhook/alerts", schema("mqtt-alert.schema.json")),
    ];
    for (topic, payload) in &payloads {
        let (_, validator) = schemas.iter().find(|(t, _)| t == topic).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(payload)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{topic} {payload}: {errors:?}");
    }
    let first = payloads
        .iter()
        .find(|(t, p)| t == "webhook/requests" && p["step"] == "bearer-0")
        .unwrap();
    assert_eq!(first.1["webhook"], "BEARER_0");
    assert_eq!(first.1["event"], "DONE");
    assert_eq!(first.1["attempt"], 1);
    assert_eq!(first.1["status"], 200);

    use base64::Engine;
    let all: String = payloads.iter().map(|(t, p)| format!("{t} {p}\n")).collect();
    for canary in CANARIES {
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("svc:{canary}"));
        let mut forms = vec![
            format!("Bearer {canary}"),
            format!("svc:{canary}"),
            format!("\"{canary}\""),
            b64,
        ];
        if canary.len() > 8 {
            forms.push(canary.to_string());
        }
        forms.push(MQTT_PASSWORD.to_string());
        for form in &forms {
            // `"POST"` is the method, legitimately: every other form of it is a leak.
            if form == "\"POST\"" {
                continue;
            }
            assert!(
                !all.contains(form.as_str()),
                "{form:?} leaked into MQTT:\n{all}"
            );
        }
    }
}

#[test]
fn check_reads_the_mqtt_node_and_points_at_its_mistakes() {
    let scratch = Scratch::new();
    let plan = |mqtt: &str| {
        format!(
            "plan \"p\"\n{mqtt}\nalerting {{\n    channel \"mqtt\" mqtt=\"events\" topic=\"webhook/alerts\"\n}}\nstep \"s\" {{ http \"GET\" \"http://127.0.0.1:1/\"; }}\n"
        )
    };
    let check = |text: &str| {
        scratch.write("plan.kdl", text);
        scratch.run(&["check", "plan.kdl"])
    };
    let good = check(&plan(
        "mqtt \"events\" url=\"mqtt://127.0.0.1:1883\" {\n    topic-prefix \"webhook\"\n    qos 1\n    username \"hookplan\" password=\"${secret.MQTT_PASSWORD:-}\"\n    outbox 10000\n    drain \"2s\"\n}",
    ));
    assert_eq!(good.code, 0, "{}", good.stderr);
    for (mqtt, expected) in [
        (
            "mqtt \"other\" url=\"mqtt://127.0.0.1:1883\"",
            "the mqtt connection \"events\" is not declared",
        ),
        ("mqtt \"events\"", "mqtt \"events\" needs a `url`"),
        (
            "mqtt \"events\" url=\"http://127.0.0.1:1883\"",
            "an mqtt URL starts with mqtt:// or mqtts://",
        ),
        (
            "mqtt \"events\" url=\"mqtt://127.0.0.1:1883\" { qos 2; }",
            "`qos`",
        ),
        (
            "mqtt \"events\" url=\"mqtt://127.0.0.1:1883\" { topic-prefix \"webhook/#\"; }",
            "is not a topic prefix",
        ),
        (
            "mqtt \"events\" url=\"mqtt://127.0.0.1:1883\" { outbox 0; }",
            "`outbox`",
        ),
        (
            "mqtt \"events\" url=\"mqtt://127.0.0.1:1883\" { qoss 1; }",
            "qos",
        ),
        (
            "mqtt \"events\" url=\"mqtt://127.0.0.1:1883\"\nmqtt \"events\" url=\"mqtt://127.0.0.1:1884\"",
            "mqtt \"events\" is declared twice",
        ),
    ] {
        let out = check(&plan(mqtt));
        assert_ne!(out.code, 0, "{mqtt}");
        assert!(
            out.stderr.contains(expected),
            "{mqtt}: expected {expected:?} in\n{}",
            out.stderr
        );
        assert!(out.stderr.contains("plan.kdl:"), "{}", out.stderr);
    }
    // The project config's connection serves a plan without its own.
    scratch.write(
        "hookplan.kdl",
        "mqtt \"events\" url=\"mqtt://127.0.0.1:1883\"\n",
    );
    let from_config = check(&plan(""));
    assert_eq!(from_config.code, 0, "{}", from_config.stderr);
}

#[test]
fn an_mqtts_connection_sets_up_rustls_on_ring_and_a_failed_handshake_is_only_counted() {
    // A plain mosquitto answers a TLS handshake with garbage: the connection never comes up.
    let scratch = Scratch::new();
    let broker = Broker::start(scratch.path(), false);
    let server = TestServer::start(&[("/hook", vec![Answer::status(200)])]);
    let (text, _) = steps("t", 3, &server.url, None);
    let text = text.replace("/hook/", "/hook?step=");
    scratch.write(
        "plan.kdl",
        &format!(
            "plan \"tls\"\nmqtt \"secure\" url=\"mqtts://127.0.0.1:{}\" {{ drain \"10s\"; }}\n{text}",
            broker.port
        ),
    );
    let started = Instant::now();
    let run = scratch.run_plan(&[]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        report(&scratch)["mqtt"]["secure"],
        serde_json::json!({"published": 0, "dropped": 0, "unpublished": 6})
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}
