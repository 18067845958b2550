use super::*;

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Deployment::sample().write(&dir.path().join("deployment.json")).unwrap();
        for name in ["op.json", "bls.json", "pw"] {
            std::fs::write(dir.path().join(name), "{}").unwrap();
        }
        Self { dir }
    }

    fn file(&self, text: &str) -> FileConfig {
        let path = self.dir.path().join("keeperd.toml");
        std::fs::write(&path, text).unwrap();
        FileConfig::read(&path).unwrap()
    }

    fn error(&self, text: &str, overrides: Overrides) -> String {
        Config::resolve(self.file(text), overrides).unwrap_err().to_string()
    }
}

const FULL: &str = r#"
data_dir = "data"
deployment = "deployment.json"
roles = ["keeper", "aggregator"]
[chain]
rpc_urls = ["http://127.0.0.1:8545", "https://rpc.example.invalid"]
confirmations = 2
[operator]
ecdsa_keystore = "op.json"
bls_keystore = "bls.json"
password_file = "pw"
[aggregator]
listen = "127.0.0.1:7070"
quorum_window_ms = 250
"#;

#[test]
fn a_full_file_resolves_with_paths_relative_to_it() {
    let setup = Setup::new();
    let config = Config::resolve(setup.file(FULL), Overrides::default()).unwrap();
    assert_eq!(config.data_dir, setup.dir.path().join("data"));
    assert_eq!(config.database_path(), setup.dir.path().join("data/keeperd.sqlite"));
    assert_eq!(config.roles, Roles { scheduler: true, keeper: true, aggregator: true, challenger: false });
    assert_eq!(config.chain.rpc_urls.len(), 2);
    assert_eq!(config.chain.confirmations, 2);
    assert_eq!(config.aggregator.quorum_window, Duration::from_millis(250));
    assert_eq!(config.aggregator_url().unwrap().as_str(), "http://127.0.0.1:7070/");
    assert_eq!(config.operator.unwrap().bls_keystore.unwrap(), setup.dir.path().join("bls.json"));
    assert_eq!(config.deployment, Deployment::sample());
}

#[test]
fn overrides_beat_the_file() {
    let setup = Setup::new();
    let overrides = Overrides {
        roles: vec![Role::Scheduler],
        rpc_urls: vec!["http://10.0.0.1:8545".into()],
        confirmations: Some(5),
        ..Overrides::default()
    };
    let config = Config::resolve(setup.file(FULL), overrides).unwrap();
    assert_eq!(config.roles, Roles { scheduler: true, ..Roles::default() });
    assert_eq!(config.chain.rpc_urls[0].as_str(), "http://10.0.0.1:8545/");
    assert_eq!(config.chain.confirmations, 5);
}

#[test]
fn every_error_names_its_field() {
    let setup = Setup::new();
    let cases: &[(&str, &str)] = &[
        ("roles = []\n", "`roles`"),
        ("roles = [\"scheduler\"]\n[chain]\nrpc_urls = [\"http://x\"]\n", "`deployment`"),
        ("roles = [\"scheduler\"]\ndeployment = \"deployment.json\"\n", "`chain.rpc_urls`"),
        (
            "roles = [\"scheduler\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"ftp://x\"]\n",
            "`chain.rpc_urls`",
        ),
        (
            "roles = [\"scheduler\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"http://x\"]\nconfirmations = 99\n",
            "`chain.confirmations`",
        ),
        (
            "roles = [\"keeper\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"http://x\"]\n",
            "`operator.ecdsa_keystore`",
        ),
        (
            "roles = [\"keeper\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"http://x\"]\n[operator]\necdsa_keystore = \"op.json\"\n",
            "`operator.bls_keystore`",
        ),
        (
            "roles = [\"aggregator\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"http://x\"]\n[operator]\necdsa_keystore = \"op.json\"\n",
            "`aggregator.listen`",
        ),
        (
            "roles = [\"aggregator\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"http://x\"]\n[operator]\necdsa_keystore = \"missing.json\"\n",
            "`operator.ecdsa_keystore`",
        ),
        (
            "roles = [\"scheduler\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"http://x\"]\n[aggregator]\nlisten = \"localhost\"\n",
            "`aggregator.listen`",
        ),
        (
            "roles = [\"scheduler\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"http://x\"]\npoll_interval_ms = 0\n",
            "`chain.poll_interval_ms`",
        ),
    ];
    for (text, field) in cases {
        let err = setup.error(text, Overrides::default());
        assert!(err.contains(field), "{text:?}: expected {field} in {err:?}");
    }
}

#[test]
fn unknown_fields_and_bad_roles_are_refused_with_their_name() {
    let setup = Setup::new();
    let path = setup.dir.path().join("bad.toml");
    std::fs::write(&path, "[chain]\nrpc_url = \"http://x\"\n").unwrap();
    let err = FileConfig::read(&path).unwrap_err().to_string();
    assert!(err.contains("rpc_url") && !err.contains('\n'), "{err}");
    std::fs::write(&path, "roles = [\"miner\"]\n").unwrap();
    let err = FileConfig::read(&path).unwrap_err().to_string();
    assert!(err.contains("miner"), "{err}");
}

#[test]
fn the_api_socket_comes_from_the_file_relative_to_it_or_a_flag() {
    let setup = Setup::new();
    let with_socket = format!("{FULL}[api]\nsocket = \"run/k.sock\"\n");
    let config = Config::resolve(setup.file(&with_socket), Overrides::default()).unwrap();
    assert_eq!(config.api_socket, setup.dir.path().join("run/k.sock"));
    let overrides = Overrides { api_socket: Some(PathBuf::from("/tmp/x/api.sock")), ..Overrides::default() };
    let config = Config::resolve(setup.file(&with_socket), overrides).unwrap();
    assert_eq!(config.api_socket, PathBuf::from("/tmp/x/api.sock"));
    // Without either, a daemon with its own data directory listens in it (instances never collide).
    let config = Config::resolve(setup.file(FULL), Overrides::default()).unwrap();
    assert_eq!(config.api_socket, setup.dir.path().join("data/keeperd.sock"));
    let overrides = Overrides { api_socket: Some(PathBuf::from("/")), ..Overrides::default() };
    assert!(setup.error(FULL, overrides).contains("`api.socket`"));
}

#[test]
fn metrics_listen_defaults_to_loopback_and_flags_switch_it_on_or_off() {
    let setup = Setup::new();
    let metrics = |text: &str, listen: Option<&str>| {
        let overrides = Overrides { metrics_listen: listen.map(str::to_owned), ..Overrides::default() };
        Config::resolve(setup.file(&format!("{FULL}{text}")), overrides).unwrap().metrics
    };
    let default = metrics("", None);
    assert!(default.enabled && !default.listen_configured);
    assert_eq!(default.listen.to_string(), DEFAULT_METRICS_LISTEN);
    assert_eq!(default.escrow_low_tasks, 10);

    let file = metrics("[metrics]\nlisten = \"0.0.0.0:0\"\nescrow_low_tasks = 3\n", None);
    assert!(file.enabled && file.listen_configured);
    assert_eq!((file.listen.to_string().as_str(), file.escrow_low_tasks), ("0.0.0.0:0", 3));

    assert!(!metrics("[metrics]\nenabled = false\n", None).enabled);
    assert!(!metrics("", Some("off")).enabled);
    assert!(!metrics("", Some("OFF")).enabled);
    let flag = metrics("[metrics]\nenabled = false\nlisten = \"127.0.0.1:1\"\n", Some("127.0.0.1:9999"));
    assert!(flag.enabled, "an address given as a flag enables metrics");
    assert_eq!(flag.listen.port(), 9999);
}

#[test]
fn bad_metrics_settings_name_their_field() {
    let setup = Setup::new();
    let error = setup.error(&format!("{FULL}[metrics]\nlisten = \"localhost\"\n"), Overrides::default());
    assert!(error.contains("`metrics.listen`") && error.contains("localhost"), "{error}");
    let overrides = Overrides { metrics_listen: Some("9464".into()), ..Overrides::default() };
    assert!(setup.error(FULL, overrides).contains("`metrics.listen`"));
    let error = setup.error(&format!("{FULL}[metrics]\nescrow_low_tasks = 0\n"), Overrides::default());
    assert!(error.contains("`metrics.escrow_low_tasks`"), "{error}");
    let path = setup.dir.path().join("typo.toml");
    std::fs::write(&path, format!("{FULL}[metrics]\nport = 1\n")).unwrap();
    let error = FileConfig::read(&path).unwrap_err().to_string();
    assert!(error.contains("unknown field `port`"), "{error}");
}

/// The BLS keystore may have its own password file (`context::operator` unlocks with it); a BLS
/// password file without a BLS keystore is refused by name.
#[test]
fn the_bls_keystore_can_have_its_own_password() {
    let setup = Setup::new();
    std::fs::write(setup.dir.path().join("bls-pw"), "bls-pw\n").unwrap();
    let own = FULL.replace("password_file = \"pw\"", "password_file = \"pw\"\nbls_password_file = \"bls-pw\"");
    let config = Config::resolve(setup.file(&own), Overrides::default()).unwrap();
    let keys = config.operator.unwrap();
    assert_eq!(keys.bls_password_file, Some(setup.dir.path().join("bls-pw")));
    assert_eq!(keys.password_file, Some(setup.dir.path().join("pw")));

    let no_bls = own.replace("bls_keystore = \"bls.json\"\n", "");
    let error = setup.error(&no_bls, Overrides::default());
    assert!(error.contains("`operator.bls_password_file`") && error.contains("no operator.bls_keystore"), "{error}");
}

#[test]
fn the_script_table_defaults_its_cache_under_the_data_dir_and_names_fields_past_their_caps() {
    let setup = Setup::new();
    let config = Config::resolve(setup.file(FULL), Overrides::default()).unwrap();
    assert_eq!(config.script.cache.dir, Some(setup.dir.path().join("data/scripts")));
    assert_eq!(config.script.limits, keeper_script::config::KindLimits::default());

    let text = format!("{FULL}[script]\ncache.dir = \"modules\"\n[script.limits.event]\nfuel = 1000000\n");
    let config = Config::resolve(setup.file(&text), Overrides::default()).unwrap();
    assert_eq!(config.script.cache.dir, Some(setup.dir.path().join("modules")));
    assert_eq!(config.script.limits.event.fuel, 1_000_000);

    let text = format!("{FULL}[script.limits.block]\nmemory_bytes = 1099511627776\n");
    let error = setup.error(&text, Overrides::default());
    assert!(error.contains("`script.limits.block.memory_bytes`") && error.contains("hard cap"), "{error}");
}

const P2P_ONLY: &str = r#"
data_dir = "data"
deployment = "deployment.json"
roles = ["keeper", "aggregator"]
[chain]
rpc_urls = ["http://127.0.0.1:8545"]
[operator]
ecdsa_keystore = "op.json"
bls_keystore = "bls.json"
password_file = "pw"
[p2p]
transport = "p2p"
listen = ["/ip4/127.0.0.1/tcp/0"]
bootstrap = ["/ip4/127.0.0.1/tcp/9011"]
takeover_blocks = 2
"#;

#[test]
fn p2p_defaults_to_http_and_p2p_alone_needs_no_aggregator_endpoint() {
    let setup = Setup::new();
    let http = Config::resolve(setup.file(FULL), Overrides::default()).unwrap();
    assert_eq!(http.p2p.transport, Transport::Http);
    assert_eq!(http.p2p.key_file, setup.dir.path().join("data/p2p.key"));
    assert_eq!(http.p2p.listen[0].to_string(), "/ip4/0.0.0.0/tcp/9010");

    let config = Config::resolve(setup.file(P2P_ONLY), Overrides::default()).unwrap();
    assert_eq!(config.p2p.transport, Transport::P2p);
    assert_eq!(config.p2p.takeover_blocks, 2);
    assert_eq!(config.p2p.bootstrap.len(), 1);
    assert!(config.aggregator.listen.is_none() && config.aggregator_url().is_none());
    // A node on the network speaks for an operator.
    let error = setup.error(
        "roles = [\"scheduler\"]\ndeployment = \"deployment.json\"\n[chain]\nrpc_urls = [\"http://x\"]\n[p2p]\ntransport = \"p2p\"\n",
        Overrides::default(),
    );
    assert!(error.contains("`operator.ecdsa_keystore`") && error.contains("[p2p]"), "{error}");
    // The same roles over HTTP still need the endpoint.
    let error = setup.error(&P2P_ONLY.replace("\"p2p\"", "\"both\""), Overrides::default());
    assert!(error.contains("`aggregator.listen`"), "{error}");
}

#[test]
fn p2p_errors_name_their_field() {
    let setup = Setup::new();
    let cases: &[(&str, &str, &str)] = &[
        ("transport = \"p2p\"", "transport = \"carrier-pigeon\"", "[p2p]"),
        ("listen = [\"/ip4/127.0.0.1/tcp/0\"]", "listen = [\"127.0.0.1:9000\"]", "`p2p.listen`"),
        ("listen = [\"/ip4/127.0.0.1/tcp/0\"]", "listen = []", "`p2p.listen`"),
        ("bootstrap = [\"/ip4/127.0.0.1/tcp/9011\"]", "bootstrap = [\"peer-one\"]", "`p2p.bootstrap`"),
        ("takeover_blocks = 2", "takeover_blocks = 0", "`p2p.takeover_blocks`"),
        ("takeover_blocks = 2", "max_connections = 0", "`p2p.max_connections`"),
        ("takeover_blocks = 2", "max_signature_bytes = 10", "`p2p.max_signature_bytes`"),
    ];
    for (from, to, field) in cases {
        let text = P2P_ONLY.replace(from, to);
        let error = match FileConfig::read(&{
            let path = setup.dir.path().join("keeperd.toml");
            std::fs::write(&path, &text).unwrap();
            path
        }) {
            Ok(file) => Config::resolve(file, Overrides::default()).unwrap_err().to_string(),
            Err(e) => e.to_string(),
        };
        assert!(error.contains(field) || (field == &"[p2p]" && error.contains("carrier-pigeon")), "{to}: {error}");
    }
}

/// A keeper on the defaults (README's settings) signs within the quorum window of an aggregator on
/// the defaults: at least two polls fit in its window (keeper-devnet's `pipeline` tests hold the devnet's too).
#[test]
fn the_default_keeper_poll_fits_twice_in_the_quorum_windows_it_meets() {
    let setup = Setup::new();
    let config =
        Config::resolve(setup.file(FULL.replace("quorum_window_ms = 250\n", "").as_str()), Overrides::default())
            .unwrap();
    assert_eq!(config.aggregator.quorum_window, Duration::from_millis(DEFAULT_QUORUM_WINDOW_MS));
    assert_eq!(config.keeper_poll_interval, Duration::from_millis(DEFAULT_KEEPER_POLL_MS));
    assert!(config.keeper_poll_interval * 2 <= config.aggregator.quorum_window, "{:?}", config.keeper_poll_interval);
}
