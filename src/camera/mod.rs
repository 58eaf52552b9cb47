//! The camera: what a V4L2 node is and can capture (`probe`, `formats`),
//! what FFmpeg captures from it (`capture`, chosen by `input_choice` and
//! `encoder_choice`; `filter_probe` whether FFmpeg has the
//! faster chroma conversion), why it cannot be used (`device_error`) and who owns it
//! (`device_lock`), who else has it open (`holders`) and how to wait for it
//! to come back (`watch`); what `hook devices` finds and reports
//! (`inventory`).

pub(crate) mod capture;
pub(crate) mod device_error;
pub mod device_lock;
pub mod encoder_choice;
pub(crate) mod filter_probe;
pub(crate) mod formats;
pub(crate) mod holders;
pub(crate) mod input_choice;
pub(crate) mod inventory;
pub(crate) mod names;
pub(crate) mod probe;
#[cfg(test)]
pub(crate) mod tables;
pub(crate) mod watch;
