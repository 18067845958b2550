//! The operator console (`keeperctl tui`): a ratatui view of one keeperd through its control API.
//!
//! Three parts, so each is tested alone: [`app::App`], a state machine fed with keys and API
//! events; [`ui::draw`], a pure rendering of it; and the runtime, which owns the terminal and a
//! task talking to the daemon, and passes messages between them through channels.

pub mod app;
pub mod events;
pub mod form;
pub mod format;
pub mod runtime;
pub mod tasks;
pub mod ui;

pub use app::{Action, ApiEvent, App, Command, Connection, Modal, View};
pub use runtime::{run, ConsoleError};
pub use ui::draw;
