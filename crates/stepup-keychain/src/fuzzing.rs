//! For the fuzz targets in `fuzz/` only (feature `fuzzing`, off by default): the entry
//! decoder and encoder of the private `layout` module, unchanged.

pub use crate::layout::{
    decode_head, encode, Encoded, Header, MAX_ENTRY_BYTES, MAX_PARTS, MAX_RECORD_BYTES,
};
