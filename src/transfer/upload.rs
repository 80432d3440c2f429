//! The body of `POST /v1/import`, received in bounded memory: chunks go, as
//! they arrive, through a small channel to a blocking thread that writes
//! them to an anonymous temporary file (gone when closed), and the import
//! then reads that file line by line. Nothing holds the whole body in
//! memory, and the database work (on SQLite, the write lock) starts only
//! once the whole body is in: a slow client ties up a temporary file, not
//! every other writer.

use std::fs::File;
use std::io::{self, Seek, Write};

use actix_web::web::{self, Bytes};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use crate::error::ApiError;

/// Chunks in flight between the network and the file.
const CHANNEL_CHUNKS: usize = 16;

/// Receives the body into a temporary file, refusing it (413) once it
/// passes `limit` bytes; the file is rewound, ready to read.
pub async fn receive(mut payload: web::Payload, limit: usize) -> Result<File, ApiError> {
    let (sender, receiver) = mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let writer = web::block(move || write_chunks(receiver));
    let reader = async move {
        let mut received = 0usize;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| ApiError::bad_request(format!("The body could not be read: {e}")))?;
            received += chunk.len();
            if received > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            if sender.send(chunk).await.is_err() {
                // The writer failed; it says why.
                break;
            }
        }
        Ok(())
        // Dropping `sender` here ends the file.
    };
    let (received, written) = futures_util::future::join(reader, writer).await;
    // A refused or broken body wins over whatever the writer made of it.
    received?;
    written.map_err(ApiError::internal)?.map_err(|e| match e.kind() {
        io::ErrorKind::StorageFull => ApiError::insufficient_storage(format!("spooling an import: {e}")),
        _ => ApiError::internal(format!("spooling an import: {e}")),
    })
}

fn write_chunks(mut receiver: mpsc::Receiver<Bytes>) -> io::Result<File> {
    let mut file = io::BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?);
    while let Some(chunk) = receiver.blocking_recv() {
        file.write_all(&chunk)?;
    }
    let mut file = file.into_inner().map_err(io::IntoInnerError::into_error)?;
    file.rewind()?;
    Ok(file)
}

/// Reads a spooled body for the importer, a buffer at a time.
pub fn reader(file: File) -> impl io::BufRead {
    io::BufReader::with_capacity(256 * 1024, file)
}
