//! The request-response protocol beside gossip: the record exchange on every new connection
//! (`Hello`) and catch-up of missed messages. Frames are a 4-byte big-endian length and an
//! ABI-encoded body; both sides bound what they read.

use std::collections::{HashSet, VecDeque};
use std::io;
use std::sync::Arc;

use alloy::primitives::Bytes;
use alloy::sol_types::SolValue;
use libp2p::futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;

use crate::envelope::{MessageId, SignedEnvelope};

/// Message ids a catch-up request lists at most (the rest are simply sent again).
pub(crate) const MAX_KNOWN_IDS: usize = 4096;
/// Records a hello answer carries at most.
pub(crate) const MAX_SHARED_RECORDS: usize = 1024;
/// Largest request frame: our record and the known ids, with room for the ABI heads.
const MAX_REQUEST_BYTES: usize = crate::record::MAX_RECORD_BYTES + MAX_KNOWN_IDS * 32 + 1024;
/// Largest answer frame; a catch-up answer stops adding messages before it.
pub(crate) const MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

alloy::sol! {
    struct SyncRequestData {
        uint8 kind;
        bytes record;
        uint64 sinceBlock;
        bytes32[] known;
    }

    struct SyncResponseData {
        uint8 kind;
        bytes record;
        bytes[] records;
        bytes[] envelopes;
        bool truncated;
    }
}

const KIND_HELLO: u8 = 1;
const KIND_CATCH_UP: u8 = 2;
const KIND_REFUSED: u8 = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncRequest {
    /// "Here is my record; what is yours, and whom do you know?"
    Hello { record: Vec<u8> },
    /// "Send me messages with reference blocks from `since_block` on, except these."
    CatchUp { since_block: u64, known: Vec<MessageId> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncResponse {
    Hello {
        record: Vec<u8>,
        records: Vec<Vec<u8>>,
    },
    CatchUp {
        envelopes: Vec<Arc<Vec<u8>>>,
        truncated: bool,
    },
    /// The requester has no valid record (or asked before presenting one).
    Refused,
}

impl SyncRequest {
    fn encode(&self) -> Vec<u8> {
        let data = match self {
            Self::Hello { record } => SyncRequestData {
                kind: KIND_HELLO,
                record: Bytes::from(record.clone()),
                sinceBlock: 0,
                known: Vec::new(),
            },
            Self::CatchUp { since_block, known } => SyncRequestData {
                kind: KIND_CATCH_UP,
                record: Bytes::new(),
                sinceBlock: *since_block,
                known: known.iter().map(|id| id.0).collect(),
            },
        };
        data.abi_encode()
    }

    fn decode(bytes: &[u8]) -> io::Result<Self> {
        let data = SyncRequestData::abi_decode(bytes).map_err(invalid_data)?;
        match data.kind {
            KIND_HELLO => Ok(Self::Hello { record: data.record.to_vec() }),
            KIND_CATCH_UP if data.known.len() <= MAX_KNOWN_IDS => Ok(Self::CatchUp {
                since_block: data.sinceBlock,
                known: data.known.into_iter().map(MessageId).collect(),
            }),
            KIND_CATCH_UP => Err(invalid_data(format!("more than {MAX_KNOWN_IDS} known ids"))),
            kind => Err(invalid_data(format!("unknown request kind {kind}"))),
        }
    }
}

impl SyncResponse {
    fn encode(&self) -> Vec<u8> {
        let data = match self {
            Self::Hello { record, records } => SyncResponseData {
                kind: KIND_HELLO,
                record: Bytes::from(record.clone()),
                records: records.iter().map(|r| Bytes::from(r.clone())).collect(),
                envelopes: Vec::new(),
                truncated: false,
            },
            Self::CatchUp { envelopes, truncated } => SyncResponseData {
                kind: KIND_CATCH_UP,
                record: Bytes::new(),
                records: Vec::new(),
                envelopes: envelopes.iter().map(|e| Bytes::from(e.as_ref().clone())).collect(),
                truncated: *truncated,
            },
            Self::Refused => SyncResponseData {
                kind: KIND_REFUSED,
                record: Bytes::new(),
                records: Vec::new(),
                envelopes: Vec::new(),
                truncated: false,
            },
        };
        data.abi_encode()
    }

    fn decode(bytes: &[u8]) -> io::Result<Self> {
        let data = SyncResponseData::abi_decode(bytes).map_err(invalid_data)?;
        match data.kind {
            KIND_HELLO if data.records.len() <= MAX_SHARED_RECORDS => Ok(Self::Hello {
                record: data.record.to_vec(),
                records: data.records.into_iter().map(|r| r.to_vec()).collect(),
            }),
            KIND_HELLO => Err(invalid_data(format!("more than {MAX_SHARED_RECORDS} records"))),
            KIND_CATCH_UP => Ok(Self::CatchUp {
                envelopes: data.envelopes.into_iter().map(|e| Arc::new(e.to_vec())).collect(),
                truncated: data.truncated,
            }),
            KIND_REFUSED => Ok(Self::Refused),
            kind => Err(invalid_data(format!("unknown response kind {kind}"))),
        }
    }
}

fn invalid_data(e: impl ToString) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
}

async fn read_frame<T: AsyncRead + Unpin + Send>(io: &mut T, max: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(invalid_data(format!("frame of {len} bytes exceeds {max}")));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_frame<T: AsyncWrite + Unpin + Send>(io: &mut T, body: &[u8], max: usize) -> io::Result<()> {
    if body.len() > max {
        return Err(invalid_data(format!("frame of {} bytes exceeds {max}", body.len())));
    }
    io.write_all(&(body.len() as u32).to_be_bytes()).await?;
    io.write_all(body).await?;
    io.close().await
}

/// The request-response codec of the sync protocol.
#[derive(Debug, Clone, Default)]
pub(crate) struct SyncCodec;

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<SyncRequest> {
        SyncRequest::decode(&read_frame(io, MAX_REQUEST_BYTES).await?)
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<SyncResponse> {
        SyncResponse::decode(&read_frame(io, MAX_RESPONSE_BYTES).await?)
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        request: SyncRequest,
    ) -> io::Result<()> {
        write_frame(io, &request.encode(), MAX_REQUEST_BYTES).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        response: SyncResponse,
    ) -> io::Result<()> {
        write_frame(io, &response.encode(), MAX_RESPONSE_BYTES).await
    }
}

/// One accepted message as the log keeps it.
#[derive(Debug, Clone)]
struct LoggedMessage {
    id: MessageId,
    reference_block: u64,
    encoded: Arc<Vec<u8>>,
}

/// The accepted messages (ours and others') of recent reference blocks: what catch-up answers
/// are made of, and what tells a duplicate from a new message. Bounded by count; oldest first out.
#[derive(Debug)]
pub(crate) struct MessageLog {
    capacity: usize,
    entries: VecDeque<LoggedMessage>,
    ids: HashSet<MessageId>,
}

impl MessageLog {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, entries: VecDeque::new(), ids: HashSet::new() }
    }

    pub(crate) fn contains(&self, id: &MessageId) -> bool {
        self.ids.contains(id)
    }

    /// Adds a message; false if it was already there.
    pub(crate) fn insert(&mut self, message: &SignedEnvelope) -> bool {
        if !self.ids.insert(message.id()) {
            return false;
        }
        self.entries.push_back(LoggedMessage {
            id: message.id(),
            reference_block: message.envelope().reference_block_number,
            encoded: Arc::new(message.encoded().to_vec()),
        });
        while self.entries.len() > self.capacity {
            if let Some(old) = self.entries.pop_front() {
                self.ids.remove(&old.id);
            }
        }
        true
    }

    /// Drops messages whose reference block is before `oldest_block`.
    pub(crate) fn prune(&mut self, oldest_block: u64) {
        let ids = &mut self.ids;
        self.entries.retain(|m| {
            let keep = m.reference_block >= oldest_block;
            if !keep {
                ids.remove(&m.id);
            }
            keep
        });
    }

    /// Ids of messages from `since_block` on, newest first, at most `max`.
    pub(crate) fn known_since(&self, since_block: u64, max: usize) -> Vec<MessageId> {
        self.entries.iter().rev().filter(|m| m.reference_block >= since_block).take(max).map(|m| m.id).collect()
    }

    /// A catch-up answer: messages from `since_block` on that are not in `known`, oldest first,
    /// at most `max_messages` and about `max_bytes`; `true` if some were left out.
    pub(crate) fn answer(
        &self,
        since_block: u64,
        known: &HashSet<MessageId>,
        max_messages: usize,
        max_bytes: usize,
    ) -> (Vec<Arc<Vec<u8>>>, bool) {
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for m in self.entries.iter().filter(|m| m.reference_block >= since_block && !known.contains(&m.id)) {
            // Arrival order keeps a proposal ahead of the signatures over it.
            if out.len() == max_messages || bytes + m.encoded.len() + 64 > max_bytes {
                return (out, true);
            }
            bytes += m.encoded.len() + 64;
            out.push(m.encoded.clone());
        }
        (out, false)
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// The block from which a catch-up asks: the age window behind the head.
pub(crate) fn catch_up_start(head: u64, max_age: u64) -> u64 {
    head.saturating_sub(max_age)
}

#[cfg(test)]
mod tests;
