//! A devnet's operators, from a fresh anvil to running daemons: the network deployed from anvil's
//! first account with the deployment file written, then operators 1..=N onboarded through
//! EigenLayer (operator `i` stakes `100 * (i + 1)` tokens) with their keystores and configs, and
//! one `keeperd run` each. The walk-through (`keeper-devnet run`) and the load benchmark both start
//! their networks here.

use std::path::{Path, PathBuf};

use alloy::network::EthereumWallet;
use alloy::node_bindings::AnvilInstance;
use alloy::primitives::{Address, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use eyre::{eyre, WrapErr};
use keeper_shared::api::FULL_MAGNITUDE;
use keeper_shared::bls::SecretKey;
use keeper_shared::deployment::Deployment;
use keeperd::config::Transport;

use crate::anvil::ANVIL_ACCOUNTS;
use crate::daemon::Daemon;
use crate::network::{deploy_network, onboard_devnet_operator, NetworkConfig};
use crate::pipeline::{append_p2p_section, free_port, write_operator_files};

/// Blocks a devnet proposer or submitter has before the next takes over (one block a second).
pub const DEVNET_TAKEOVER_BLOCKS: u64 = 2;

/// The network deployed on a fresh anvil, owned by anvil's account 0, its files in `dir`.
pub struct DeployedDevnet {
    pub owner: Address,
    /// Signs as the owner.
    pub provider: DynProvider,
    pub deployment: Deployment,
    /// `dir/deployment.json`.
    pub deployment_file: PathBuf,
    /// Absolute.
    pub dir: PathBuf,
}

/// anvil's funded account `index`: its address and a provider signing with it.
pub fn wallet_provider(anvil: &AnvilInstance, index: usize) -> (Address, DynProvider) {
    let (signer, provider) = account_provider(anvil, index);
    (signer.address(), provider)
}

/// A provider signing with anvil's funded account `index`, and its signer.
pub fn account_provider(anvil: &AnvilInstance, index: usize) -> (PrivateKeySigner, DynProvider) {
    let signer = PrivateKeySigner::from(anvil.keys()[index].clone());
    let provider =
        ProviderBuilder::new().wallet(EthereumWallet::from(signer.clone())).connect_http(anvil.endpoint_url()).erased();
    (signer, provider)
}

/// anvil's funded account `index` and a provider signing with it that reads the nonce from the node
/// for every transaction: tests whose reorgs drop their own transactions need it, since a cached
/// nonce would then leave a gap nothing fills.
pub fn node_nonce_provider(anvil: &AnvilInstance, index: usize) -> (Address, DynProvider) {
    let signer = PrivateKeySigner::from(anvil.keys()[index].clone());
    let address = signer.address();
    let provider = ProviderBuilder::default()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(anvil.endpoint_url())
        .erased();
    (address, provider)
}

impl DeployedDevnet {
    /// Deploys the EigenLayer core and the AVS from account 0 and writes the deployment file into
    /// `dir` (created).
    pub async fn deploy(anvil: &AnvilInstance, dir: &Path) -> eyre::Result<Self> {
        let (owner_signer, provider) = account_provider(anvil, 0);
        Self::deploy_as(owner_signer.address(), provider, dir).await
    }

    /// [`Self::deploy`] with `provider` signing as `owner` (e.g. a [`node_nonce_provider`]).
    pub async fn deploy_as(owner: Address, provider: DynProvider, dir: &Path) -> eyre::Result<Self> {
        let deployment = deploy_network(&provider, &NetworkConfig::devnet(owner)).await?;
        std::fs::create_dir_all(dir).wrap_err_with(|| format!("creating {}", dir.display()))?;
        let dir = dir.canonicalize().wrap_err_with(|| format!("resolving {}", dir.display()))?;
        let deployment_file = dir.join("deployment.json");
        deployment.write(&deployment_file)?;
        Ok(Self { owner, provider, deployment, deployment_file, dir })
    }
}

/// Which operators a devnet runs and how they exchange proposals and signatures.
#[derive(Debug, Clone, Copy)]
pub struct OperatorPlan {
    /// How many (anvil's accounts 1..=keepers).
    pub keepers: usize,
    pub transport: Transport,
    /// Whether operator 0 also runs the challenger role.
    pub challenger: bool,
}

impl OperatorPlan {
    /// `keepers` operators over HTTP, operator 0 aggregating and challenging (the devnet's classic set).
    pub fn http(keepers: usize) -> Self {
        Self { keepers, transport: Transport::Http, challenger: true }
    }

    /// Operator `index`'s roles: every operator keeps; operator 0 aggregates for all over HTTP, and
    /// over P2P every operator can propose and submit; operator 0 challenges if asked.
    pub fn roles(&self, index: usize) -> Vec<&'static str> {
        let mut roles = vec!["keeper"];
        if index == 0 || self.transport.uses_p2p() {
            roles.push("aggregator");
        }
        if index == 0 && self.challenger {
            roles.push("challenger");
        }
        roles
    }
}

/// One onboarded operator with its files written.
pub struct DevnetOperator {
    pub index: usize,
    pub signer: PrivateKeySigner,
    pub key: SecretKey,
    /// Whole stake tokens allocated to the keeper set.
    pub stake_tokens: u64,
    pub roles: Vec<&'static str>,
    /// Its `keeperd.toml`.
    pub config: PathBuf,
    /// Gas of its registration for the keeper set.
    pub registration_gas: u64,
}

impl DevnetOperator {
    /// Onboards anvil's account `index + 1` through EigenLayer with `stake_tokens` whole tokens and a
    /// fresh BLS key, and writes its files under `<dir>/operator-<index>`: a `keeperd.toml` with
    /// `roles`, the chain at `rpc_url` and the aggregator endpoint `aggregator` (no `[p2p]` section).
    pub async fn onboard(
        anvil: &AnvilInstance,
        devnet: &DeployedDevnet,
        index: usize,
        stake_tokens: u64,
        roles: Vec<&'static str>,
        rpc_url: &str,
        aggregator: &str,
    ) -> eyre::Result<Self> {
        if index + 1 >= ANVIL_ACCOUNTS {
            return Err(eyre!("operator {index}: anvil funds only accounts 1..{ANVIL_ACCOUNTS}"));
        }
        let (signer, provider) = account_provider(anvil, index + 1);
        let key = SecretKey::random(&mut rand::thread_rng());
        let stake = U256::from(stake_tokens) * U256::from(FULL_MAGNITUDE);
        let receipt =
            onboard_devnet_operator(&devnet.provider, &provider, signer.address(), &devnet.deployment, &key, stake)
                .await?;
        let config = write_operator_files(
            &devnet.dir.join(format!("operator-{index}")),
            &signer,
            &key,
            rpc_url,
            &devnet.deployment_file,
            &roles,
            aggregator,
        )?;
        Ok(Self { index, signer, key, stake_tokens, roles, config, registration_gas: receipt.gas_used })
    }

    pub fn address(&self) -> Address {
        self.signer.address()
    }
}

/// The onboarded operators and where they meet.
pub struct DevnetOperators {
    pub operators: Vec<DevnetOperator>,
    /// Operator 0's aggregator endpoint (`ip:port`).
    pub aggregator: String,
    /// Each operator's P2P port (empty over HTTP alone).
    pub p2p_ports: Vec<u16>,
}

/// A running daemon of a devnet operator.
pub struct Keeper {
    pub operator: Address,
    pub daemon: Daemon,
}

/// An error naming the first of `keepers` whose daemon exited, and its log.
pub fn check_running(keepers: &mut [Keeper]) -> eyre::Result<()> {
    for keeper in keepers.iter_mut() {
        if let Some(status) = keeper.daemon.exited() {
            return Err(eyre!(
                "the daemon of operator {} exited ({status}); see {}",
                keeper.operator,
                keeper.daemon.log_path().display()
            ));
        }
    }
    Ok(())
}

impl DevnetOperators {
    /// Onboards `plan.keepers` operators on `devnet` and writes their files under
    /// `<dir>/operator-<i>`; `each` sees every operator once it is registered (the walk-through
    /// prints it).
    pub async fn onboard(
        anvil: &AnvilInstance,
        devnet: &DeployedDevnet,
        plan: &OperatorPlan,
        mut each: impl FnMut(&DevnetOperator) -> eyre::Result<()>,
    ) -> eyre::Result<Self> {
        if plan.keepers == 0 || plan.keepers >= ANVIL_ACCOUNTS {
            return Err(eyre!("keepers: must be between 1 and {}", ANVIL_ACCOUNTS - 1));
        }
        let aggregator = format!("127.0.0.1:{}", free_port()?);
        let p2p = plan.transport.uses_p2p();
        let p2p_ports = match p2p {
            true => (0..plan.keepers).map(|_| free_port()).collect::<Result<Vec<_>, _>>()?,
            false => Vec::new(),
        };
        let mut operators = Vec::with_capacity(plan.keepers);
        for index in 0..plan.keepers {
            let stake_tokens = 100 * (index as u64 + 1);
            let rpc_url = anvil.endpoint_url();
            let operator = DevnetOperator::onboard(
                anvil,
                devnet,
                index,
                stake_tokens,
                plan.roles(index),
                rpc_url.as_str(),
                &aggregator,
            )
            .await?;
            if p2p {
                let peers: Vec<u16> =
                    p2p_ports.iter().enumerate().filter(|(j, _)| *j != index).map(|(_, p)| *p).collect();
                append_p2p_section(&operator.config, p2p_ports[index], &peers, DEVNET_TAKEOVER_BLOCKS)?;
            }
            each(&operator)?;
            operators.push(operator);
        }
        Ok(Self { operators, aggregator, p2p_ports })
    }

    /// Starts one `keeperd run` (`keeperd` the binary) per operator, logging into its directory;
    /// the log filter is `$RUST_LOG` if set.
    pub fn spawn(&self, keeperd: &Path) -> eyre::Result<Vec<Keeper>> {
        let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| crate::daemon::DEFAULT_LOG_FILTER.into());
        self.operators
            .iter()
            .map(|operator| {
                let daemon = Daemon::builder(keeperd).config(&operator.config).env("RUST_LOG", &filter).spawn()?;
                Ok(Keeper { operator: operator.address(), daemon })
            })
            .collect()
    }
}
