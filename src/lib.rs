//! mediamtx-hook: the library behind the `hook` binary.
//!
//! The folders are layers; a module imports only from layers below it:
//!
//! - [`commands`]: one thin file per subcommand (read the arguments, call
//!   the domain, print), and the dispatch that builds the
//!   [`context::Context`] every command gets.
//! - [`recording`]: the recording wing: sessions and their rules, the
//!   per-path session lock, re-triggers, the hold, revival, segment
//!   accounting (start times, gone files, the disk budget, recovery) and
//!   event recording (the ring and its roll, arm/disarm, events, clips,
//!   resume).
//! - [`publish`]: the publisher (`hook run`): its job, the claim of the
//!   path's entry and its give-back, failure causes and the camera's waits;
//!   `hook ready`'s record and the stopping of a publisher.
//! - [`snapshot`]: snapshot capture: the source (live stream, device or
//!   live still), the camera's warm-up, the capture and the output file.
//! - [`context`]: what every command and the domain below it gets: the state
//!   store, the policy, the encoder-probe cache directory.
//! - [`cli`]: the command line only (flag definitions, help, man page,
//!   completions); it knows nothing of what the commands do.
//! - [`status`]: the status view (what [`state::observe`] found, the
//!   recording's trouble, the disk budget) and how `hook status` renders it
//!   (human, JSON, Prometheus).
//! - [`supervise`]: the supervision of one child: the loop, its decisions,
//!   signals, backoff, and the checks on `hook` processes that are not ours
//!   to reap (holds, publishers).
//! - [`camera`]: V4L2 probing and formats, the capture input, the input and
//!   encoder choice, device errors and the device lock, and what `hook
//!   devices` finds and reports.
//! - [`ffmpeg`]: FFmpeg's command lines.
//! - [`mediamtx`]: MediaMTX's hook environment, the Control API client, the
//!   generated configuration and the cameras it wires, and RTSP
//!   (credentials, native reader, relay).
//! - [`state`]: the state store (`state.json`), the ledger, safe file opening
//!   in the state directory and the observation of living processes.
//! - [`policy`]: the use-case policy and its durations.
//! - [`process`]: the one place children are started (the pre-exec every
//!   child gets, the scrubbed environment), the bounded run, signalling and
//!   reaping.
//! - `fs`: safe files on `nix`, the bottom layer: a directory handle that
//!   never follows a link, exclusive temporary files, atomic replacement,
//!   file-type checks, free space, and the one lock-file type.
//! - [`error`], [`logging`] and [`redact`]: exit codes, usage errors, the log
//!   format, and the hiding of credentials in anything shown.

pub mod camera;
pub mod cli;
pub mod commands;
pub mod context;
pub mod error;
pub mod ffmpeg;
pub(crate) mod fs;
pub mod logging;
pub mod mediamtx;
pub mod policy;
pub mod process;
pub mod publish;
pub mod recording;
pub mod redact;
pub mod snapshot;
pub mod state;
pub mod status;
pub mod supervise;
