//! The devnet's faucet (`keeper_shared::deployment::faucet`): a fresh account, funded by the owner
//! once at start with ether and stake tokens, whose key goes into `faucet.json` for `keeperctl
//! devnet fund`.

use std::path::{Path, PathBuf};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::signers::local::PrivateKeySigner;
use eyre::{eyre, WrapErr};
use keeper_shared::contracts::StakeToken;
use keeper_shared::deployment::faucet::{DevnetFaucet, FAUCET_FILE};
use keeper_shared::deployment::Deployment;

use keeperd::eigenlayer::onboarding::confirm;

const ETHER: u64 = 1_000_000_000_000_000_000;
/// What the faucet starts with: enough for hundreds of operators.
const FAUCET_ETHER: u64 = 1_000;
const FAUCET_STAKE_TOKENS: u64 = 1_000_000;

/// Creates and funds the faucet account from `owner` and writes `dir/faucet.json`; its address and
/// the file.
pub async fn open_faucet<P: Provider>(
    owner: &P,
    deployment: &Deployment,
    rpc_url: &str,
    dir: &Path,
) -> eyre::Result<(Address, PathBuf)> {
    let token = deployment.stake_token.ok_or_else(|| eyre!("the deployment names no stake token (not a devnet)"))?;
    let signer = PrivateKeySigner::random();
    let faucet = signer.address();
    let ether = TransactionRequest::default().with_to(faucet).with_value(U256::from(FAUCET_ETHER) * U256::from(ETHER));
    owner
        .send_transaction(ether)
        .await
        .wrap_err("funding the faucet with ether")?
        .get_receipt()
        .await
        .wrap_err("funding the faucet with ether")?;
    let amount = U256::from(FAUCET_STAKE_TOKENS) * U256::from(ETHER);
    confirm("minting the faucet's stake tokens", StakeToken::new(token, owner).mint(faucet, amount).send().await)
        .await?;
    let file = dir.join(FAUCET_FILE);
    DevnetFaucet {
        rpc_url: rpc_url.to_owned(),
        chain_id: deployment.chain_id,
        private_key: signer.to_bytes(),
        stake_token: token,
    }
    .write(&file)?;
    Ok((faucet, file))
}
