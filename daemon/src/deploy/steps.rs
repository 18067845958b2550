//! Sends a deploy's transactions one step at a time and keeps the journal of them: a step's hash is
//! recorded (and the output file rewritten) before its receipt is awaited, and its block, gas and
//! created contract once it is in. A step the journal has confirmed is not sent again; one it has
//! only seen sent is waited for, and sent anew only if the node no longer knows it.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use keeper_shared::deployment::{DeployJournal, DeployStep, DeploymentFile, StepRecord};

use super::DeployError;

/// How long a re-run waits for a transaction an earlier run sent before giving up.
const PENDING_WAIT: Duration = Duration::from_secs(600);
const PENDING_POLL: Duration = Duration::from_secs(2);

/// A transaction this run sent and saw mined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentStep {
    pub step: DeployStep,
    /// What it did (`create KeeperServiceManager`, `KeeperServiceManager.initializeAVS`).
    pub what: String,
    pub tx: B256,
    pub gas_used: u64,
    pub effective_gas_price: u128,
}

/// The journal and the provider that sends from `journal.deployer`.
pub struct StepRunner<'a, P> {
    provider: &'a P,
    journal: DeployJournal,
    /// Where the journal is written after every change (`None`: kept in memory, as on a devnet).
    file: Option<PathBuf>,
    stop_after: Option<DeployStep>,
    progress: Option<&'a mut (dyn Write + Send)>,
    sent: Vec<SentStep>,
}

impl<'a, P: Provider> StepRunner<'a, P> {
    pub fn new(provider: &'a P, journal: DeployJournal) -> Self {
        Self { provider, journal, file: None, stop_after: None, progress: None, sent: Vec::new() }
    }

    /// Writes the journal to `file` after every change.
    pub fn recording_to(mut self, file: PathBuf) -> Self {
        self.file = Some(file);
        self
    }

    /// Stops (with [`DeployError::StoppedAfter`]) once `step` is confirmed: the test hook for an
    /// interrupted deploy.
    pub fn stopping_after(mut self, step: Option<DeployStep>) -> Self {
        self.stop_after = step;
        self
    }

    /// Prints a line per step to `out` as it goes.
    pub fn printing_to(mut self, out: &'a mut (dyn Write + Send)) -> Self {
        self.progress = Some(out);
        self
    }

    pub fn provider(&self) -> &'a P {
        self.provider
    }

    pub fn journal(&self) -> &DeployJournal {
        &self.journal
    }

    pub fn into_journal(self) -> DeployJournal {
        self.journal
    }

    /// The transactions this run sent.
    pub fn sent(&self) -> &[SentStep] {
        &self.sent
    }

    /// Creates a contract from `init_code` (bytecode and constructor arguments); its address.
    pub async fn create(&mut self, step: DeployStep, what: &str, init_code: Bytes) -> Result<Address, DeployError> {
        let request = TransactionRequest::default().with_deploy_code(init_code);
        let record = self.run(step, &format!("create {what}"), request).await?;
        record.address.ok_or(DeployError::NoContractAddress { step, tx: record.tx })
    }

    /// Calls `to` with `input`.
    pub async fn call(&mut self, step: DeployStep, what: &str, to: Address, input: Bytes) -> Result<(), DeployError> {
        let request = TransactionRequest::default().to(to).input(input.into());
        self.run(step, what, request).await.map(drop)
    }

    async fn run(
        &mut self,
        step: DeployStep,
        what: &str,
        request: TransactionRequest,
    ) -> Result<StepRecord, DeployError> {
        if let Some(record) = self.journal.step(step).cloned() {
            if record.confirmed() {
                return Ok(record);
            }
            if let Some(receipt) = self.await_earlier(step, record.tx).await? {
                self.note(&format!("{step}: {what}: transaction {} from an earlier run was mined", record.tx))?;
                return self.confirm(step, what, &receipt);
            }
            self.note(&format!(
                "{step}: transaction {} from an earlier run is unknown to the node: sending again",
                record.tx
            ))?;
        }
        let request = request.from(self.journal.deployer);
        let pending =
            self.provider.send_transaction(request).await.map_err(DeployError::rpc(format!("{step}: sending")))?;
        let tx = *pending.tx_hash();
        self.journal.record(StepRecord { step, tx, block_number: None, gas_used: None, address: None });
        self.save()?;
        let receipt =
            pending.get_receipt().await.map_err(|source| DeployError::Receipt { step: step.to_string(), source })?;
        self.confirm(step, what, &receipt)
    }

    /// The receipt of `tx`, sent by an earlier run: waited for while the node knows the transaction;
    /// `None` once it does not (dropped from its pool, so it can be sent again).
    async fn await_earlier(&self, step: DeployStep, tx: B256) -> Result<Option<TransactionReceipt>, DeployError> {
        let started = std::time::Instant::now();
        loop {
            let receipt = self
                .provider
                .get_transaction_receipt(tx)
                .await
                .map_err(DeployError::rpc(format!("{step}: reading the receipt of {tx}")))?;
            if receipt.is_some() {
                return Ok(receipt);
            }
            let known = self
                .provider
                .get_transaction_by_hash(tx)
                .await
                .map_err(DeployError::rpc(format!("{step}: looking up {tx}")))?;
            if known.is_none() {
                return Ok(None);
            }
            if started.elapsed() > PENDING_WAIT {
                return Err(DeployError::StillPending { step, tx, waited_secs: PENDING_WAIT.as_secs() });
            }
            tokio::time::sleep(PENDING_POLL).await;
        }
    }

    fn confirm(
        &mut self,
        step: DeployStep,
        what: &str,
        receipt: &TransactionReceipt,
    ) -> Result<StepRecord, DeployError> {
        let tx = receipt.transaction_hash;
        if !receipt.status() {
            return Err(DeployError::Reverted { step, tx });
        }
        let record = StepRecord {
            step,
            tx,
            block_number: Some(receipt.block_number.unwrap_or_default()),
            gas_used: Some(receipt.gas_used),
            address: receipt.contract_address,
        };
        self.journal.record(record.clone());
        self.save()?;
        self.sent.push(SentStep {
            step,
            what: what.to_owned(),
            tx,
            gas_used: receipt.gas_used,
            effective_gas_price: receipt.effective_gas_price,
        });
        let created = record.address.map(|a| format!(" at {a}")).unwrap_or_default();
        self.note(&format!("{step}: {what}{created} (tx {tx}, gas {})", receipt.gas_used))?;
        if self.stop_after == Some(step) {
            return Err(DeployError::StoppedAfter(step));
        }
        Ok(record)
    }

    fn save(&self) -> Result<(), DeployError> {
        if let Some(file) = &self.file {
            DeploymentFile::Unfinished(self.journal.clone()).write(file)?;
        }
        Ok(())
    }

    fn note(&mut self, line: &str) -> Result<(), DeployError> {
        if let Some(out) = self.progress.as_mut() {
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        Ok(())
    }
}
