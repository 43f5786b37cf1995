//! Fixed-point prices and quantities: an instrument's decimal precision turns
//! a JSON number into an exact integer count of ticks (price) or lots (qty).
//!
//! Kraken's WS v2 sends prices and quantities as JSON numbers, so a caller in
//! JavaScript holds the nearest `f64`. For a decimal with at most `precision`
//! decimals and an integer part small enough that `value * 10^precision` stays
//! below 10^14, `round(value * 10^precision)` recovers the exact decimal; the
//! conversion rejects values where that is not so (more decimals than the
//! precision allows, negative, non-finite, or too large).

use crate::error::BookError;

/// The largest tick/lot count accepted (10^14): far below 2^53, so that the
/// rounding error of `value * 10^p` (about 2.3e-16 relative) stays under
/// 0.03 units and a value with one decimal too many is still told apart.
const MAX_UNITS: f64 = 1e14;

/// Decimal precision of one instrument's prices and quantities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    /// Decimals of a price (Kraken's `price_precision`), 0..=12.
    pub price_precision: u32,
    /// Decimals of a quantity (Kraken's `qty_precision`), 0..=12.
    pub qty_precision: u32,
    price_factor: f64,
    qty_factor: f64,
}

impl Scale {
    /// A validated scale; precisions above 12 are rejected.
    pub fn new(price_precision: u32, qty_precision: u32) -> Result<Self, BookError> {
        for (name, p) in [("price_precision", price_precision), ("qty_precision", qty_precision)] {
            if p > 12 {
                return Err(BookError::InvalidParameter { name, reason: format!("{p} is above 12") });
            }
        }
        Ok(Self {
            price_precision,
            qty_precision,
            price_factor: 10f64.powi(price_precision as i32),
            qty_factor: 10f64.powi(qty_precision as i32),
        })
    }

    /// A price as whole ticks (strictly positive).
    pub fn price_ticks(&self, price: f64) -> Result<i64, BookError> {
        let t = to_units(price, self.price_factor, "price")?;
        if t == 0 {
            return Err(BookError::InvalidLevel { field: "price", value: price, reason: "not positive" });
        }
        Ok(t)
    }

    /// A quantity as whole lots (0 deletes a level).
    pub fn qty_lots(&self, qty: f64) -> Result<i64, BookError> {
        to_units(qty, self.qty_factor, "qty")
    }

    /// Ticks back to a price.
    #[inline]
    pub fn price(&self, ticks: i64) -> f64 {
        ticks as f64 / self.price_factor
    }

    /// Lots back to a quantity.
    #[inline]
    pub fn qty(&self, lots: i64) -> f64 {
        lots as f64 / self.qty_factor
    }
}

fn to_units(value: f64, factor: f64, field: &'static str) -> Result<i64, BookError> {
    if !value.is_finite() {
        return Err(BookError::InvalidLevel { field, value, reason: "not finite" });
    }
    if value < 0.0 {
        return Err(BookError::InvalidLevel { field, value, reason: "negative" });
    }
    let scaled = value * factor;
    if scaled >= MAX_UNITS {
        return Err(BookError::InvalidLevel { field, value, reason: "too large for its precision" });
    }
    let units = scaled.round();
    // The product of an exact decimal and 10^p lands within a few ulps of an
    // integer; anything further has more decimals than the precision.
    if (scaled - units).abs() > 1e-9 + scaled * 1e-15 {
        return Err(BookError::InvalidLevel { field, value, reason: "more decimals than the instrument's precision" });
    }
    Ok(units as i64)
}
