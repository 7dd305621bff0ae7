//! TensorBoard event files, written here without TensorFlow or a protobuf library: an event
//! file is a sequence of records (length, CRC32C of the length, payload, CRC32C of the
//! payload), each payload one serialized `tensorboard.Event` message. Only the few message
//! fields TensorBoard's loader needs are encoded: scalars as `simple_value`, grids as PNG
//! `Summary.Image`s, and a `SessionLog` START where a resumed run restarts, so TensorBoard
//! drops the steps the resume replays.

mod crc32c;
mod proto;
mod writer;

pub use crc32c::{crc32c, masked_crc32c};
pub use writer::EventWriter;
