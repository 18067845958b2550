//! The Grafana dashboards and the Prometheus config of `dashboards/` against the real thing:
//!
//! - `promtool check config dashboards/prometheus.yml`;
//! - every dashboard JSON is provisioning-ready: a unique uid, a title, panels with unique ids
//!   inside the 24-column grid, every panel, target and variable on the provisioned datasource;
//! - a real `keeper-devnet run` (anvil, EigenLayer, three keeper daemons) and the real Prometheus
//!   (installed by `make setup` into .tools/), scraping the daemons through the targets file the
//!   devnet writes: every PromQL expression of every panel (`targets[].expr`) must return data
//!   with a finite value through `/api/v1/query`, and every metric name the dashboards use must be
//!   one the daemons export (read from their `/metrics`).
//!
//! Nothing is skipped: without Prometheus the tests fail and say that `make setup` installs it.
//! Each test owns every process it starts: the devnet runs in its own process group, which is
//! stopped (SIGTERM, then SIGKILL) on drop, daemons and anvil included.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Every panel's and variable's datasource (dashboards/provisioning/datasources/prometheus.yaml).
const DATASOURCE_UID: &str = "keeper-prometheus";
/// The scrape job the dashboards select (`up{job="keeperd"}`), as dashboards/prometheus.yml names it.
const JOB: &str = "keeperd";
/// What the test puts for Grafana's variables: every daemon, and a window of many scrapes.
const SUBSTITUTIONS: [(&str, &str); 3] = [("$__rate_interval", "1m"), ("$__interval", "15s"), ("$instance", ".*")];
/// The devnet's keepers.
const KEEPERS: usize = 3;
/// Sample jobs the devnet creates (one of each kind).
const SAMPLE_JOBS: usize = 5;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `$<var>` (the Makefile exports it), else where `make setup` installs the tool.
fn tool(var: &str, name: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or_else(|| repo().join(".tools/bin").join(name));
    assert!(
        path.is_file(),
        "{name} not found at {} (${var}): run `make setup`, which installs Prometheus and promtool from Debian's \
         package into .tools/",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------------------------------------
// Processes
// ---------------------------------------------------------------------------------------------------------

/// A child the test owns. With `group`, the child leads its own process group and the whole
/// group is stopped: SIGTERM, a grace period for it to stop its own children, then SIGKILL.
struct Owned {
    name: &'static str,
    child: Child,
    group: bool,
}

impl Owned {
    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let target = if self.group { format!("-{pid}") } else { pid };
        let _ = Command::new("kill").args(["-TERM", "--", &target]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // The group's stragglers (or the child itself, if it ignored SIGTERM).
        let _ = Command::new("kill").args(["-KILL", "--", &target]).stderr(Stdio::null()).status();
        let _ = self.child.wait();
        eprintln!("stopped {}", self.name);
    }
}

/// `keeper-devnet run` in a temp dir, its stdout collected line by line.
struct Devnet {
    dir: PathBuf,
    lines: Arc<Mutex<Vec<String>>>,
    process: Owned,
}

impl Devnet {
    fn start(dir: &Path) -> Self {
        let devnet_dir = dir.join("devnet");
        let mut child = Command::new(keeper_devnet::binaries::keeper_devnet())
            .arg("run")
            .arg("--keeperd")
            .arg(env!("CARGO_BIN_EXE_keeperd"))
            .arg("--anvil")
            .arg(common::anvil_binary())
            .arg("--dir")
            .arg(&devnet_dir)
            .args(["--keepers", &KEEPERS.to_string(), "--interval", "2", "--duration", "900"])
            .env("RUST_LOG", "warn,keeperd=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("devnet.stderr")).unwrap())
            .process_group(0)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { dir: devnet_dir, lines, process: Owned { name: "keeper-devnet run", child, group: true } }
    }

    fn output(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Sample jobs performed at least once so far (from the `performed: job N ...` lines).
    fn jobs_performed(&self) -> usize {
        let lines = self.lines.lock().unwrap();
        let jobs: BTreeSet<&str> =
            lines.iter().filter_map(|l| l.strip_prefix("performed: job ")?.split_whitespace().next()).collect();
        jobs.len()
    }

    fn check_running(&mut self) {
        assert!(self.process.running(), "keeper-devnet run exited early:\n{}", self.output());
    }
}

/// The real Prometheus on a free 127.0.0.1 port with its own storage, scraping `targets` every second.
struct Prometheus {
    url: String,
    process: Owned,
}

impl Prometheus {
    fn start(dir: &Path, targets: &Path) -> Self {
        let binary = tool("KEEPER_PROMETHEUS", "prometheus");
        let port = keeper_devnet::pipeline::free_port().unwrap();
        let config = dir.join("prometheus.yml");
        let targets = targets.to_str().unwrap();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n  - job_name: {JOB}\n    file_sd_configs:\n      - files: [\"{targets}\"]\n        \
                 refresh_interval: 1s\n"
            ),
        )
        .unwrap();
        let child = Command::new(&binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("prometheus-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        Self { url: format!("http://127.0.0.1:{port}"), process: Owned { name: "prometheus", child, group: false } }
    }

    async fn wait_ready(&mut self, log: &Path) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(self.process.running(), "prometheus exited:\n{}", std::fs::read_to_string(log).unwrap_or_default());
            if let Ok(response) = reqwest::get(format!("{}/-/ready", self.url)).await {
                if response.status().is_success() {
                    return;
                }
            }
            assert!(Instant::now() < deadline, "prometheus not ready within 60 s");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `/api/v1/query` at the current time: the result vector (an error if Prometheus refused the query).
    async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let url = reqwest::Url::parse_with_params(&format!("{}/api/v1/query", self.url), &[("query", expr)]).unwrap();
        let body = reqwest::get(url).await.map_err(|e| e.to_string())?.text().await.map_err(|e| e.to_string())?;
        let value: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
        if value["status"] != "success" {
            return Err(format!("{}: {}", value["errorType"], value["error"]));
        }
        match &value["data"]["result"] {
            Value::Array(result) => Ok(result.clone()),
            other => Ok(vec![other.clone()]),
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Dashboards
// ---------------------------------------------------------------------------------------------------------

struct Dashboard {
    file: String,
    json: Value,
}

fn dashboards() -> Vec<Dashboard> {
    let dir = repo().join("dashboards/grafana");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
            Dashboard { file: path.file_name().unwrap().to_string_lossy().into_owned(), json }
        })
        .collect()
}

/// Every panel, including those nested in collapsed rows.
fn panels(json: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&json["panels"], &mut out);
    out
}

/// (dashboard file, panel title, expression) for every query target.
fn expressions(dashboards: &[Dashboard]) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for d in dashboards {
        for panel in panels(&d.json) {
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap_or_default().to_owned();
                out.push((d.file.clone(), panel["title"].as_str().unwrap_or_default().to_owned(), expr));
            }
        }
    }
    out
}

/// Grafana's variables replaced by what the test queries with.
fn substitute(expr: &str) -> String {
    SUBSTITUTIONS.iter().fold(expr.to_owned(), |e, (var, value)| e.replace(var, value))
}

/// PromQL's functions and aggregations the dashboards may call.
const FUNCTIONS: &[&str] = &[
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "topk",
    "bottomk",
    "quantile",
    "rate",
    "irate",
    "increase",
    "delta",
    "deriv",
    "histogram_quantile",
    "label_values",
    "abs",
    "clamp_min",
    "clamp_max",
    "vector",
    "scalar",
    "time",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "changes",
    "resets",
    "absent",
    "round",
    "sort",
    "sort_desc",
];
/// Words that are neither functions nor metrics.
const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset"];
/// Keywords followed by a parenthesised list of label names.
const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];

/// The metric names an expression selects: identifiers that are not functions, keywords or
/// label names (string literals, `{...}` matchers and `[...]` ranges are stripped first).
/// A call of an unknown function is an error (a typo would otherwise read as a metric).
fn metric_names(expr: &str) -> Result<BTreeSet<String>, String> {
    let mut plain = String::new();
    let (mut braces, mut brackets, mut quote) = (0, 0, None::<char>);
    let mut chars = expr.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'' | '`') => quote = Some(c),
            (None, '{') => braces += 1,
            (None, '}') => braces -= 1,
            (None, '[') => brackets += 1,
            (None, ']') => brackets -= 1,
            (None, c) if braces == 0 && brackets == 0 => plain.push(c),
            _ => {}
        }
        if quote.is_some() || braces > 0 || brackets > 0 {
            plain.push(' ');
        }
    }
    let text: Vec<char> = plain.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c.is_ascii_digit() || c == '.' {
            // A number (0.99, 1e6): skipped whole.
            while i < text.len() && (text[i].is_ascii_alphanumeric() || text[i] == '.') {
                i += 1;
            }
            continue;
        }
        if !(c.is_ascii_alphabetic() || c == '_' || c == ':') {
            i += 1;
            continue;
        }
        let start = i;
        while i < text.len() && (text[i].is_ascii_alphanumeric() || text[i] == '_' || text[i] == ':') {
            i += 1;
        }
        let word: String = text[start..i].iter().collect();
        let mut next = i;
        while next < text.len() && text[next] == ' ' {
            next += 1;
        }
        let rest: String = text[next..].iter().take(8).collect();
        let grouped =
            ["by", "without"].iter().any(|k| rest.strip_prefix(k).is_some_and(|after| after.starts_with([' ', '('])));
        // `f(`, or an aggregation with its grouping first: `sum by (x) (...)`.
        let calls = (next < text.len() && text[next] == '(') || grouped;
        if LABEL_LISTS.contains(&word.as_str()) {
            if calls {
                while next < text.len() && text[next] != ')' {
                    next += 1;
                }
                i = next + 1;
            }
        } else if calls {
            if !FUNCTIONS.contains(&word.as_str()) {
                return Err(format!("unknown PromQL function {word:?} in {expr}"));
            }
        } else if !KEYWORDS.contains(&word.as_str()) {
            names.insert(word);
        }
    }
    Ok(names)
}

/// The metrics a variable's query reads: `label_values(<selector>, <label>)` reads the selector's.
fn variable_metric_names(query: &str) -> Result<BTreeSet<String>, String> {
    match query.trim().strip_prefix("label_values(").and_then(|q| q.strip_suffix(')')) {
        Some(args) => metric_names(args.rsplit_once(',').map_or(args, |(selector, _label)| selector)),
        None => metric_names(query),
    }
}

/// The one `uid:` of the provisioned datasource, read from its YAML.
fn provisioned_datasource_uid() -> String {
    let path = repo().join("dashboards/provisioning/datasources/prometheus.yaml");
    let text = std::fs::read_to_string(&path).unwrap();
    let uids: Vec<&str> = text.lines().filter_map(|l| l.trim().strip_prefix("uid:")).map(str::trim).collect();
    assert_eq!(uids.len(), 1, "{}: one datasource uid", path.display());
    assert!(text.contains("type: prometheus"), "{}: a prometheus datasource", path.display());
    uids[0].to_owned()
}

/// A sample `[time, "value"]` whose value is a finite number.
fn finite(sample: &Value) -> bool {
    sample[1].as_str().and_then(|v| v.parse::<f64>().ok()).is_some_and(f64::is_finite)
}

// ---------------------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------------------

#[test]
fn promtool_accepts_the_prometheus_config() {
    let promtool = tool("KEEPER_PROMTOOL", "promtool");
    let config = repo().join("dashboards/prometheus.yml");
    let output = Command::new(&promtool).arg("check").arg("config").arg(&config).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool check config {}:\n{text}", config.display());
    assert!(text.contains("SUCCESS"), "{text}");
    // The config scrapes the job the dashboards select, from the file the devnet writes.
    let yaml = std::fs::read_to_string(&config).unwrap();
    assert!(yaml.contains(&format!("job_name: {JOB}")), "dashboards/prometheus.yml: job {JOB}");
    assert!(yaml.contains("../.devnet/prometheus-targets.json"), "dashboards/prometheus.yml: the devnet's targets");
    // It loads the alert rules (checked above with the config).
    assert!(text.contains("1 rule files found"), "{text}");
}

/// The alert on missed tasks fires for a job whose counter rose and only for it
/// (dashboards/alerts.test.yml, promtool's rule unit tests).
#[test]
fn the_missed_task_alert_fires_on_a_job_that_missed_tasks() {
    let promtool = tool("KEEPER_PROMTOOL", "promtool");
    let tests = repo().join("dashboards/alerts.test.yml");
    let output = Command::new(&promtool).arg("test").arg("rules").arg(&tests).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool test rules {}:\n{text}", tests.display());
    assert!(text.contains("SUCCESS"), "{text}");
}

#[test]
fn dashboards_are_provisioning_ready() {
    assert_eq!(provisioned_datasource_uid(), DATASOURCE_UID);
    let provider = std::fs::read_to_string(repo().join("dashboards/provisioning/dashboards/keeper.yaml")).unwrap();
    assert!(provider.contains("type: file") && provider.contains("path:"), "the dashboard provider reads files");

    let dashboards = dashboards();
    let uids: BTreeSet<&str> = dashboards.iter().map(|d| d.json["uid"].as_str().unwrap_or_default()).collect();
    assert_eq!(
        uids,
        BTreeSet::from(["keeper-operator-health", "keeper-task-pipeline", "keeper-aggregator-chain"]),
        "the three dashboards, each with its own uid"
    );
    assert_eq!(uids.len(), dashboards.len(), "a uid per dashboard");
    let datasource = serde_json::json!({ "type": "prometheus", "uid": DATASOURCE_UID });
    for d in &dashboards {
        let file = &d.file;
        let title = d.json["title"].as_str().unwrap_or_default();
        assert!(!title.is_empty(), "{file}: a title");
        assert!(d.json["schemaVersion"].as_u64().is_some(), "{file}: a schemaVersion");
        assert!(d.json.get("id").is_none_or(Value::is_null), "{file}: no database id (provisioning assigns it)");
        for variable in d.json["templating"]["list"].as_array().into_iter().flatten() {
            if variable["type"] == "query" {
                assert_eq!(variable["datasource"], datasource, "{file}: variable {}", variable["name"]);
            }
        }
        let all = panels(&d.json);
        let queries = all.iter().filter(|p| p["type"] != "row").count();
        assert!(queries >= 8, "{file}: {queries} panels with queries");
        let mut ids = BTreeSet::new();
        for panel in all {
            let name = format!("{file}: panel {:?}", panel["title"].as_str().unwrap_or_default());
            assert!(ids.insert(panel["id"].as_u64().unwrap_or_else(|| panic!("{name}: an id"))), "{name}: id reused");
            assert!(panel["title"].as_str().is_some_and(|t| !t.is_empty()), "{name}: a title");
            let grid = &panel["gridPos"];
            let (x, w) = (grid["x"].as_u64().unwrap(), grid["w"].as_u64().unwrap());
            assert!(x + w <= 24 && grid["h"].as_u64().unwrap() > 0, "{name}: gridPos {grid} outside the grid");
            if panel["type"] == "row" {
                continue;
            }
            let kind = panel["type"].as_str().unwrap_or_default();
            assert!(["timeseries", "stat", "table", "gauge", "bargauge"].contains(&kind), "{name}: type {kind}");
            assert_eq!(panel["datasource"], datasource, "{name}: datasource");
            let targets = panel["targets"].as_array().unwrap_or_else(|| panic!("{name}: targets"));
            assert!(!targets.is_empty(), "{name}: at least one query");
            let mut refs = BTreeSet::new();
            for target in targets {
                assert_eq!(target["datasource"], datasource, "{name}: target datasource");
                assert!(refs.insert(target["refId"].as_str().unwrap()), "{name}: refId reused");
                let expr = target["expr"].as_str().unwrap_or_default();
                assert!(!expr.trim().is_empty(), "{name}: an expression");
                // Every call is a known function (else it panics) and every name a keeper metric or `up`.
                for metric in metric_names(expr).unwrap() {
                    assert!(metric.starts_with("keeper_") || metric == "up", "{name}: {metric:?} in {expr}");
                }
            }
        }
    }
}

#[test]
fn the_expression_scanner_finds_metrics_and_nothing_else() {
    let names = metric_names(
        r#"sum by (instance, endpoint) (rate(keeper_rpc_errors_total{instance=~".*", method="eth_call"}[1m])) or on (instance) histogram_quantile(0.99, sum by (le) (rate(keeper_x_bucket[5m]))) * 0 > 1e6"#,
    );
    assert_eq!(names.unwrap(), BTreeSet::from(["keeper_rpc_errors_total".to_owned(), "keeper_x_bucket".to_owned()]));
    assert!(metric_names("rat(keeper_x[1m])").unwrap_err().contains("\"rat\""), "a typo in a function");
    assert_eq!(
        variable_metric_names("label_values(keeper_build_info{job=\"keeperd\"}, instance)").unwrap(),
        BTreeSet::from(["keeper_build_info".to_owned()])
    );
}

/// The heavy one: a devnet, Prometheus, and every query of every dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_returns_data_from_a_devnet() {
    let dir = tempfile::tempdir().unwrap();
    tool("KEEPER_PROMETHEUS", "prometheus"); // fail before starting anything if it is missing
    let mut devnet = Devnet::start(dir.path());

    // The devnet lists its daemons' metrics endpoints once it has written their configs.
    let targets_file = devnet.dir.join("prometheus-targets.json");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !targets_file.exists() {
        devnet.check_running();
        assert!(Instant::now() < deadline, "no {} within 300 s:\n{}", targets_file.display(), devnet.output());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let targets: Value = serde_json::from_str(&std::fs::read_to_string(&targets_file).unwrap()).unwrap();
    let groups = targets.as_array().expect("a file_sd list");
    assert_eq!(groups.len(), KEEPERS, "one target group per daemon: {targets}");
    let addresses: Vec<String> = groups
        .iter()
        .map(|g| {
            assert!(g["labels"]["operator"].is_string(), "an operator label: {g}");
            g["targets"][0].as_str().unwrap().to_owned()
        })
        .collect();

    let mut prometheus = Prometheus::start(dir.path(), &targets_file);
    prometheus.wait_ready(&dir.path().join("prometheus.log")).await;

    // Until every sample job was performed (every histogram has observations), scraping meanwhile.
    let deadline = Instant::now() + Duration::from_secs(300);
    while devnet.jobs_performed() < SAMPLE_JOBS {
        devnet.check_running();
        assert!(Instant::now() < deadline, "sample jobs not all performed within 300 s:\n{}", devnet.output());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // What the daemons export, from their own /metrics.
    let mut exported = BTreeSet::from(["up".to_owned()]); // Prometheus adds it to every target
    let mut families = BTreeSet::new();
    for address in &addresses {
        let text = reqwest::get(format!("http://{address}/metrics")).await.unwrap().text().await.unwrap();
        let types: BTreeMap<&str, &str> =
            text.lines().filter_map(|l| l.strip_prefix("# TYPE ")).filter_map(|l| l.split_once(' ')).collect();
        assert!(types.contains_key("keeper_build_info"), "{address}/metrics:\n{text}");
        for (name, kind) in types {
            families.insert(name.to_owned());
            exported.insert(name.to_owned());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    exported.insert(format!("{name}{suffix}"));
                }
            }
        }
    }

    let dashboards = dashboards();
    let expressions = expressions(&dashboards);
    assert!(expressions.len() >= 30, "{} expressions", expressions.len());
    let mut used = BTreeSet::new();
    for (file, panel, expr) in &expressions {
        for name in metric_names(expr).unwrap() {
            assert!(exported.contains(&name), "{file}: panel {panel:?} uses {name:?}, which keeperd does not export");
            used.insert(name);
        }
    }
    for d in &dashboards {
        for variable in d.json["templating"]["list"].as_array().into_iter().flatten() {
            let query = variable["definition"].as_str().unwrap_or_default();
            for name in variable_metric_names(query).unwrap() {
                assert!(exported.contains(&name), "{}: variable query {query} uses {name:?}", d.file);
            }
        }
    }
    let unused: Vec<&String> = families.iter().filter(|n| !used.iter().any(|u| u.starts_with(n.as_str()))).collect();
    eprintln!("exported metrics on no dashboard: {unused:?}");

    // Every expression, until each returns a finite value (the daemons keep working meanwhile).
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut pending: Vec<&(String, String, String)> = expressions.iter().collect();
    let mut last = BTreeMap::new();
    loop {
        devnet.check_running();
        let mut still = Vec::new();
        for entry in pending {
            let expr = substitute(&entry.2);
            match prometheus.query(&expr).await {
                Ok(result) if result.iter().any(|r| finite(&r["value"])) => {}
                Ok(result) => {
                    last.insert(expr, format!("{result:?}"));
                    still.push(entry);
                }
                Err(error) => panic!("{}: panel {:?}: Prometheus refused {expr}: {error}", entry.0, entry.1),
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if Instant::now() > deadline {
            let report: Vec<String> = pending
                .iter()
                .map(|(file, panel, expr)| {
                    let expr = substitute(expr);
                    format!("{file}: {panel:?}: {expr} -> {}", last.get(&expr).map_or("", String::as_str))
                })
                .collect();
            panic!("queries without data after 180 s:\n{}", report.join("\n"));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    eprintln!("{} expressions of {} dashboards returned data", expressions.len(), dashboards.len());
    drop(prometheus);
    drop(devnet);
}
