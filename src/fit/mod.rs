//! Fitting a budget: the solver that chooses one fidelity per file ([`solve`]), and the budgeted
//! pack that ranks, fits, renders and counts until the document is within the budget
//! ([`budget`]).

pub mod budget;
mod solve;

pub use solve::{solve, Choice, Item, Solution};
