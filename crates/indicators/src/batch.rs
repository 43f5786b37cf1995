//! Batch computation: a fold over the streaming update.

use crate::Indicator;

/// Runs `indicator` over `inputs` from its current state and collects one
/// output per input (`None` while warming up). It is the streaming update in
/// a loop, so the results are bit-identical to calling `update` by hand.
pub fn run<I, T>(indicator: &mut I, inputs: impl IntoIterator<Item = T>) -> Vec<Option<I::Output>>
where
    I: Indicator<Input = T>,
{
    inputs.into_iter().map(|x| indicator.update(x)).collect()
}

/// Like [`run`] for scalar outputs, with NaN for the warm-up.
pub fn run_f64<I, T>(indicator: &mut I, inputs: impl IntoIterator<Item = T>) -> Vec<f64>
where
    I: Indicator<Input = T, Output = f64>,
{
    inputs.into_iter().map(|x| indicator.update(x).unwrap_or(f64::NAN)).collect()
}
