//! `keeperctl devnet fund`: ether and stake tokens from the devnet's faucet (`keeper-devnet run`
//! writes its key and the stake token into `faucet.json`), so a new operator on a devnet gets what
//! an operator on a testnet brings: gas money and tokens to restake.

use alloy::network::{EthereumWallet, TransactionBuilder};
use alloy::primitives::utils::parse_units;
use alloy::primitives::{Address, U256};
use alloy::providers::{Provider, ProviderBuilder};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use keeper_shared::contracts::StakeToken;
use keeper_shared::deployment::faucet::DevnetFaucet;
use serde::Serialize;

use crate::cli::FundArgs;
use crate::exit::{CliError, CliResult, Exit};
use crate::output::{line, print_json};

/// What `fund` sent.
#[derive(Debug, Serialize)]
struct Funded {
    address: Address,
    ether_wei: String,
    ether_tx: alloy::primitives::B256,
    stake_token: Address,
    stake_wei: String,
    stake_tx: alloy::primitives::B256,
}

fn amount(flag: &str, text: &str) -> CliResult<U256> {
    parse_units(text.trim(), 18)
        .map(|units| units.get_absolute())
        .map_err(|e| CliError::usage(format!("{flag} `{text}`: not an amount ({e})")))
}

fn unreachable(what: &str, error: impl std::fmt::Display) -> CliError {
    CliError::new(Exit::Unreachable, eyre::eyre!("{what}: {error}"))
}

fn check(what: &str, receipt: TransactionReceipt) -> CliResult<TransactionReceipt> {
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(CliError::new(Exit::Rejected, eyre::eyre!("{what}: transaction {} reverted", receipt.transaction_hash)))
    }
}

pub async fn fund(args: &FundArgs, json: bool) -> CliResult {
    let ether = amount("--eth", &args.eth)?;
    let stake = amount("--stake", &args.stake)?;
    let faucet = DevnetFaucet::read(&args.faucet)
        .map_err(|e| CliError::new(Exit::Failure, eyre::eyre!("{e} (does `keeper-devnet run` run?)")))?;
    let signer = PrivateKeySigner::from_bytes(&faucet.private_key)
        .map_err(|e| CliError::new(Exit::Failure, eyre::eyre!("{}: privateKey: {e}", args.faucet.display())))?;
    let url: reqwest::Url =
        faucet.rpc_url.parse().map_err(|e| eyre::eyre!("{}: rpcUrl {}: {e}", args.faucet.display(), faucet.rpc_url))?;
    let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(url);
    let chain_id = provider.get_chain_id().await.map_err(|e| unreachable("the devnet", e))?;
    if chain_id != faucet.chain_id {
        return Err(CliError::new(
            Exit::Failure,
            eyre::eyre!(
                "{}: the devnet was chain {}, the endpoint is chain {chain_id} now",
                args.faucet.display(),
                faucet.chain_id
            ),
        ));
    }
    // One at a time: the faucet's nonce is its own, and the second transaction waits for the first.
    let send = TransactionRequest::default().with_to(args.address).with_value(ether);
    let pending = provider.send_transaction(send).await.map_err(|e| unreachable("sending ether", e))?;
    let ether_tx = check("sending ether", pending.get_receipt().await.map_err(|e| unreachable("sending ether", e))?)?;
    let token = StakeToken::new(faucet.stake_token, &provider);
    let pending =
        token.transfer(args.address, stake).send().await.map_err(|e| unreachable("sending stake tokens", e))?;
    let stake_tx = check(
        "sending stake tokens",
        pending.get_receipt().await.map_err(|e| unreachable("sending stake tokens", e))?,
    )?;
    let funded = Funded {
        address: args.address,
        ether_wei: ether.to_string(),
        ether_tx: ether_tx.transaction_hash,
        stake_token: faucet.stake_token,
        stake_wei: stake.to_string(),
        stake_tx: stake_tx.transaction_hash,
    };
    if json {
        return print_json(&funded);
    }
    line(format_args!("sent {} ether to {} (transaction {})", args.eth, args.address, funded.ether_tx));
    line(format_args!(
        "sent {} stake tokens ({}) to {} (transaction {})",
        args.stake, faucet.stake_token, args.address, funded.stake_tx
    ));
    Ok(())
}
