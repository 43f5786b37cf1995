//! A tree ensemble compiled from LightGBM model text into flat arrays, for
//! fast single-row prediction that equals LightGBM's bit for bit.
//!
//! It evaluates exactly what LightGBM 4.7 computes for a dense row
//! (`LGBM_BoosterPredictForMat*`, predict type normal, all iterations):
//!
//! * the row goes through LightGBM's dense-to-sparse conversion
//!   (`RowPairFunctionFromDenseMatrix`, `src/c_api.cpp`): a value with
//!   `|x| <= kZeroThreshold` (the float `1e-35f` widened to double) is
//!   dropped, i.e. reads as `0.0`; NaN is kept;
//! * each tree descends with `Tree::NumericalDecision`
//!   (`include/LightGBM/tree.h`): NaN reads as `0.0` unless the node's
//!   missing type is NaN; with missing type Zero a zero (or NaN) value, and
//!   with missing type NaN a NaN value, goes to the node's default side
//!   (`decision_type` bit 2); otherwise `x <= threshold` goes left;
//! * the tree outputs are added in tree order to `0.0` (`GBDT::PredictRaw`),
//!   divided by the number of iterations when the model has
//!   `average_output` (random forest), then put through the objective's
//!   `ConvertOutput`: identity for regression, regression_l1, huber, fair,
//!   quantile, mape and custom objectives; `exp` for poisson, gamma and
//!   tweedie; `1 / (1 + exp(-sigmoid * x))` for binary and
//!   `1 / (1 + exp(-x))` for cross_entropy.
//!
//! Leaf values and thresholds are read from the text LightGBM writes with 17
//! significant digits, which round-trips every double, and parsed correctly
//! rounded (as LightGBM's `fast_double_parser` does), so the compiled
//! numbers are LightGBM's numbers. The same IEEE operations in the same
//! order give the same bits; `exp` is the C library's in both.
//!
//! Anything else is not compiled and [`CompiledModel::from_model_text`]
//! says why: categorical splits (`num_cat > 0`), linear trees, more than one
//! tree per iteration (multiclass), objectives not listed above (multiclass,
//! multiclassova, ranking, cross_entropy_lambda, the `sqrt` option of the
//! regression objectives), a binary `sigmoid` that is not a whole number
//! (LightGBM parses it with its own less precise `Atof`), trees with more
//! than 64 leaves, NaN thresholds, or text that does not have LightGBM's
//! shape. The caller then uses LightGBM's own predictor.
//!
//! Evaluation (the QuickScorer scheme, Lucchese et al., SIGIR 2015): leaves
//! of each tree are numbered left to right, and each internal node carries
//! the mask of leaves still reachable when it sends the row right (all but
//! its left subtree's). A tree's exit leaf is the leftmost leaf that no
//! right-going node on any path has excluded. Nodes are filed by feature,
//! sorted by threshold: for a normal value `x` the nodes that send it right
//! are exactly those with `threshold < x`, a prefix of the list found by
//! binary search; so a row costs one pass over each feature's prefix,
//! ANDing masks into one `u32` (up to 32 leaves) or `u64` (up to 64) per
//! tree, with no data-dependent branch per tree level. For a zero or NaN
//! value the feature's nodes that send it right (precomputed from their
//! missing type and default side) are applied instead. The result does not
//! depend on the order the masks are applied in; only the final sum keeps
//! LightGBM's tree order.

use std::collections::HashMap;

/// LightGBM's `kZeroThreshold` (`include/LightGBM/meta.h`): `1e-35f`, a
/// float literal widened to double.
const ZERO_THRESHOLD: f64 = 1e-35_f32 as f64;

/// Value classes of a row entry as LightGBM sees them.
const CLASS_NORMAL: u8 = 0;
const CLASS_ZERO: u8 = 1;
const CLASS_NAN: u8 = 2;

/// The most leaves a compiled tree may have (one bit per leaf in a `u64`).
const MAX_LEAVES: usize = 64;

/// The class of a row value: NaN, zero (after LightGBM's dense-to-sparse
/// conversion, which drops `|x| <= kZeroThreshold`), or normal.
#[inline(always)]
fn class_of(x: f64) -> u8 {
    if x.is_nan() {
        CLASS_NAN
    } else if x.abs() <= ZERO_THRESHOLD {
        CLASS_ZERO
    } else {
        CLASS_NORMAL
    }
}

/// An internal node as laid out from its tree, before filing.
#[derive(Debug, Clone, Copy)]
struct RawNode {
    feature: usize,
    threshold: f64,
    /// In-order positions of the leaves of the node's left subtree.
    left_leaves: u64,
    tree: u32,
    /// Bit `CLASS_ZERO`: a zero value goes right; bit `CLASS_NAN`: NaN goes
    /// right. (Bit 0 unused.)
    special_right: u8,
}

/// A per-tree set of leaves, one bit per in-order leaf position: `u32` for
/// trees of up to 32 leaves (8-byte entries), `u64` up to 64 (16 bytes).
trait LeafSet: Copy + std::fmt::Debug {
    const ALL: Self;
    /// The low bits of `bits` (callers ensure the tree fits).
    fn from_bits(bits: u64) -> Self;
    fn intersect(self, other: Self) -> Self;
    /// The lowest set position (a reachable set is never empty).
    fn leftmost(self) -> usize;
}

impl LeafSet for u32 {
    const ALL: Self = u32::MAX;
    fn from_bits(bits: u64) -> Self {
        #[allow(clippy::cast_possible_truncation)] // used only for trees of at most 32 leaves
        let low = bits as u32;
        low
    }
    #[inline(always)]
    fn intersect(self, other: Self) -> Self {
        self & other
    }
    #[inline(always)]
    fn leftmost(self) -> usize {
        self.trailing_zeros() as usize
    }
}

impl LeafSet for u64 {
    const ALL: Self = u64::MAX;
    fn from_bits(bits: u64) -> Self {
        bits
    }
    #[inline(always)]
    fn intersect(self, other: Self) -> Self {
        self & other
    }
    #[inline(always)]
    fn leftmost(self) -> usize {
        self.trailing_zeros() as usize
    }
}

/// A node filed under its split feature: sending the row right leaves
/// `right_mask` of tree `tree` reachable.
#[derive(Debug, Clone, Copy)]
struct Entry<M> {
    right_mask: M,
    tree: u32,
}

/// Nodes filed per feature `f` in `list[start[f]..start[f + 1]]`, with
/// their thresholds at the same positions in `thresholds`.
#[derive(Debug, Clone)]
struct Filed<M> {
    list: Vec<Entry<M>>,
    thresholds: Vec<f64>,
    start: Vec<usize>,
}

impl<M: LeafSet> Filed<M> {
    /// Files the nodes chosen by `keep`, grouped by feature, keeping the
    /// order given within a feature. (Features are `< n_features`.)
    fn new(nodes: &[RawNode], n_features: usize, keep: impl Fn(&RawNode) -> bool) -> Self {
        let mut kept: Vec<&RawNode> = nodes.iter().filter(|n| keep(n)).collect();
        kept.sort_by_key(|n| n.feature); // stable
        let mut start = vec![0usize; n_features + 1];
        for n in &kept {
            start[n.feature + 1] += 1;
        }
        for f in 0..n_features {
            start[f + 1] += start[f];
        }
        Self {
            list: kept.iter().map(|n| Entry { right_mask: M::from_bits(!n.left_leaves), tree: n.tree }).collect(),
            thresholds: kept.iter().map(|n| n.threshold).collect(),
            start,
        }
    }

    #[inline(always)]
    fn of(&self, feature: usize) -> &[Entry<M>] {
        &self.list[self.start[feature]..self.start[feature + 1]]
    }

    /// The feature's nodes with `threshold < x` (for a list sorted by
    /// threshold: a prefix, found by binary search).
    #[inline(always)]
    fn below(&self, feature: usize, x: f64) -> &[Entry<M>] {
        let range = self.start[feature]..self.start[feature + 1];
        let count = self.thresholds[range.clone()].partition_point(|&t| t < x);
        &self.list[range][..count]
    }
}

/// The per-feature node lists: by ascending threshold (normal values), and
/// the nodes that send a zero or a NaN value right.
#[derive(Debug, Clone)]
struct Tables<M> {
    by_threshold: Filed<M>,
    zero_right: Filed<M>,
    nan_right: Filed<M>,
}

impl<M: LeafSet> Tables<M> {
    fn new(nodes: &[RawNode], n_features: usize) -> Self {
        let mut sorted = nodes.to_vec();
        // Ascending threshold (stable: ties keep tree order); no NaN here.
        sorted.sort_by(|a, b| a.threshold.total_cmp(&b.threshold));
        Self {
            by_threshold: Filed::new(&sorted, n_features, |_| true),
            // (Threshold order here too, which spreads a tree's nodes apart;
            // any order gives the same result.)
            zero_right: Filed::new(&sorted, n_features, |n| n.special_right & (1 << CLASS_ZERO) != 0),
            nan_right: Filed::new(&sorted, n_features, |n| n.special_right & (1 << CLASS_NAN) != 0),
        }
    }

    /// Sums the exit leaves of all trees in tree order.
    #[inline(always)]
    fn sum_leaves(&self, row: &[f64], leaf_start: &[usize], leaf_values: &[f64]) -> f64 {
        const STACK_TREES: usize = 512;
        let n_trees = leaf_start.len();
        let mut on_stack = [M::ALL; STACK_TREES];
        let mut on_heap = Vec::new();
        let reachable: &mut [M] = if n_trees <= STACK_TREES {
            &mut on_stack[..n_trees]
        } else {
            on_heap.resize(n_trees, M::ALL);
            &mut on_heap
        };
        for (f, &x) in row.iter().enumerate() {
            match class_of(x) {
                CLASS_NORMAL => {
                    // Right iff !(x <= threshold), i.e. threshold < x: a
                    // prefix of the ascending thresholds.
                    for e in self.by_threshold.below(f, x) {
                        let r = &mut reachable[e.tree as usize];
                        *r = r.intersect(e.right_mask);
                    }
                }
                class => {
                    let filed = if class == CLASS_ZERO { &self.zero_right } else { &self.nan_right };
                    for e in filed.of(f) {
                        let r = &mut reachable[e.tree as usize];
                        *r = r.intersect(e.right_mask);
                    }
                }
            }
        }
        // The exit leaf is the leftmost still reachable; add in tree order.
        let mut sum = 0.0f64;
        for (&start, &set) in leaf_start.iter().zip(reachable.iter()) {
            sum += leaf_values[start + set.leftmost()];
        }
        sum
    }
}

#[derive(Debug, Clone)]
enum Kernel {
    Narrow(Tables<u32>),
    Wide(Tables<u64>),
}

/// The objective's output transform (`ObjectiveFunction::ConvertOutput`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Transform {
    Identity,
    Exp,
    /// binary: `1 / (1 + exp(-sigmoid * x))`
    Sigmoid(f64),
    /// cross_entropy: `1 / (1 + exp(-x))`
    Logistic,
}

/// A compiled single-output LightGBM model; see the module docs.
#[derive(Debug, Clone)]
pub struct CompiledModel {
    n_features: usize,
    kernel: Kernel,
    /// Leaf values of every tree in in-order (left to right) position.
    leaf_values: Vec<f64>,
    /// `leaf_values[leaf_start[t]..]` belong to tree `t`.
    leaf_start: Vec<usize>,
    /// `Some(n)`: divide the sum by the iteration count (`average_output`).
    average_over: Option<f64>,
    transform: Transform,
}

/// A tree as parsed from the text, before layout.
struct ParsedTree {
    num_leaves: usize,
    split_feature: Vec<usize>,
    threshold: Vec<f64>,
    decision_type: Vec<u8>,
    left_child: Vec<i64>,
    right_child: Vec<i64>,
    leaf_value: Vec<f64>,
}

fn field<'a>(kv: &'a HashMap<&str, &str>, key: &str) -> Result<&'a str, String> {
    kv.get(key).copied().ok_or_else(|| format!("tree has no {key} line"))
}

fn numbers<T: std::str::FromStr>(kv: &HashMap<&str, &str>, key: &str, n: usize) -> Result<Vec<T>, String> {
    let text = field(kv, key)?;
    let out: Vec<T> = text
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<T>().map_err(|_| format!("{key}: cannot read {s:?}")))
        .collect::<Result<_, _>>()?;
    if out.len() != n {
        return Err(format!("{key} has {} values, expected {n}", out.len()));
    }
    Ok(out)
}

fn parse_tree(kv: &HashMap<&str, &str>, n_features: usize) -> Result<ParsedTree, String> {
    let num_leaves: usize = field(kv, "num_leaves")?.trim().parse().map_err(|_| "bad num_leaves".to_string())?;
    if num_leaves == 0 {
        return Err("tree with 0 leaves".into());
    }
    let num_cat: i64 = field(kv, "num_cat")?.trim().parse().map_err(|_| "bad num_cat".to_string())?;
    if num_cat != 0 {
        return Err("categorical splits (num_cat > 0)".into());
    }
    if let Some(linear) = kv.get("is_linear") {
        if linear.trim() != "0" {
            return Err("linear trees (is_linear)".into());
        }
    }
    let leaf_value = numbers::<f64>(kv, "leaf_value", num_leaves)?;
    let n_internal = num_leaves - 1;
    if n_internal == 0 {
        return Ok(ParsedTree {
            num_leaves,
            split_feature: Vec::new(),
            threshold: Vec::new(),
            decision_type: Vec::new(),
            left_child: Vec::new(),
            right_child: Vec::new(),
            leaf_value,
        });
    }
    let split_feature = numbers::<usize>(kv, "split_feature", n_internal)?;
    if let Some(f) = split_feature.iter().find(|&&f| f >= n_features) {
        return Err(format!("split on feature {f} of {n_features}"));
    }
    let decision_type =
        if kv.contains_key("decision_type") { numbers::<u8>(kv, "decision_type", n_internal)? } else { vec![0; n_internal] };
    if decision_type.iter().any(|&d| d > 127) {
        return Err("decision_type out of range".into());
    }
    Ok(ParsedTree {
        num_leaves,
        split_feature,
        threshold: numbers::<f64>(kv, "threshold", n_internal)?,
        decision_type,
        left_child: numbers::<i64>(kv, "left_child", n_internal)?,
        right_child: numbers::<i64>(kv, "right_child", n_internal)?,
        leaf_value,
    })
}

/// Which side a node sends zero and NaN values to (bits as in
/// [`Node::special_right`]), following `Tree::NumericalDecision`.
fn special_right(decision_type: u8, threshold: f64) -> u8 {
    let default_left = decision_type & 2 != 0;
    // A value of 0.0 compared as LightGBM does: `fval <= threshold` is left.
    #[allow(clippy::neg_cmp_op_on_partial_ord)] // written as LightGBM's test, negated
    let zero_compare_right = !(0.0 <= threshold);
    let (zero_right, nan_right) = match (decision_type >> 2) & 3 {
        // Zero: NaN becomes 0.0, and 0.0 takes the default side.
        1 => (!default_left, !default_left),
        // NaN: NaN takes the default side; 0.0 is compared.
        2 => (zero_compare_right, !default_left),
        // None (and the unused value 3): NaN becomes 0.0, compared.
        _ => (zero_compare_right, zero_compare_right),
    };
    (u8::from(zero_right) << CLASS_ZERO) | (u8::from(nan_right) << CLASS_NAN)
}

/// Files one tree's internal nodes into `nodes` (with their in-order leaf
/// masks) and its leaf values, in in-order position, into `leaf_values`.
/// Checks that the children form a tree over all nodes.
fn lay_out(tree: &ParsedTree, index: u32, nodes: &mut Vec<RawNode>, leaf_values: &mut Vec<f64>) -> Result<(), String> {
    let n_internal = tree.num_leaves - 1;
    if tree.num_leaves > MAX_LEAVES {
        return Err(format!("a tree has {} leaves (compiled: at most {MAX_LEAVES})", tree.num_leaves));
    }
    if n_internal == 0 {
        leaf_values.push(tree.leaf_value[0]);
        return Ok(());
    }
    // In-order walk from the root: number the leaves left to right and
    // record, for every internal node, the in-order range of its left
    // subtree's leaves. Every node must be reached exactly once.
    let child = |c: i64| -> Result<Result<usize, usize>, String> {
        if c >= 0 {
            usize::try_from(c).ok().filter(|&i| i < n_internal).map(Ok)
        } else {
            usize::try_from(!c).ok().filter(|&l| l < tree.num_leaves).map(Err)
        }
        .ok_or_else(|| format!("child index {c} out of range"))
    };
    let mut seen_internal = vec![false; n_internal];
    let mut seen_leaf = vec![false; tree.num_leaves];
    let mut left_range = vec![(0usize, 0usize); n_internal];
    let mut order: Vec<usize> = Vec::with_capacity(tree.num_leaves);
    // Stack entries: (node, phase). Phase 0: visit left subtree; 1: left
    // done, record its range and visit the right subtree.
    let mut start_of_left = vec![0usize; n_internal];
    let mut stack: Vec<(Result<usize, usize>, u8)> = vec![(Ok(0), 0)];
    while let Some((node, phase)) = stack.pop() {
        match node {
            Err(leaf) => {
                if std::mem::replace(&mut seen_leaf[leaf], true) {
                    return Err("tree nodes are not a tree (leaf reached twice)".into());
                }
                order.push(leaf);
            }
            Ok(i) if phase == 0 => {
                if std::mem::replace(&mut seen_internal[i], true) {
                    return Err("tree nodes are not a tree (node reached twice)".into());
                }
                start_of_left[i] = order.len();
                stack.push((Ok(i), 1));
                stack.push((child(tree.left_child[i])?, 0));
            }
            Ok(i) => {
                left_range[i] = (start_of_left[i], order.len());
                stack.push((child(tree.right_child[i])?, 0));
            }
        }
    }
    if order.len() != tree.num_leaves || seen_internal.iter().any(|s| !s) {
        return Err("tree has unreachable nodes".into());
    }
    for (i, &(from, to)) in left_range.iter().enumerate() {
        // Leaves from..to (at most 63 of 64 bits) are cleared.
        let width = to - from;
        nodes.push(RawNode {
            feature: tree.split_feature[i],
            threshold: tree.threshold[i],
            left_leaves: ((1u64 << width) - 1) << from,
            tree: index,
            special_right: special_right(tree.decision_type[i], tree.threshold[i]),
        });
    }
    leaf_values.extend(order.iter().map(|&l| tree.leaf_value[l]));
    Ok(())
}

fn parse_transform(objective: Option<&str>) -> Result<Transform, String> {
    let Some(objective) = objective else { return Ok(Transform::Identity) };
    let tokens: Vec<&str> = objective.split(' ').filter(|t| !t.is_empty()).collect();
    let name = tokens.first().copied().unwrap_or("");
    let sqrt = tokens.contains(&"sqrt");
    match name {
        "regression" | "regression_l1" | "quantile" | "fair" | "mape" if sqrt => {
            Err(format!("objective {name} with the sqrt option"))
        }
        "regression" | "regression_l1" | "quantile" | "fair" | "mape" | "huber" | "custom" => Ok(Transform::Identity),
        "poisson" | "gamma" | "tweedie" => Ok(Transform::Exp),
        "cross_entropy" => Ok(Transform::Logistic),
        "binary" => {
            // BinaryLogloss keeps the last "sigmoid:<v>" token and reads it
            // with Common::Atof; for a whole number that is exact.
            let value = tokens
                .iter()
                .filter_map(|t| t.strip_prefix("sigmoid:"))
                .rfind(|v| !v.contains(':'))
                .ok_or_else(|| "binary objective without sigmoid".to_string())?;
            if value.is_empty() || value.len() > 15 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!("binary sigmoid {value:?} is not a whole number"));
            }
            let s: f64 = value.parse().map_err(|_| format!("binary sigmoid {value:?}"))?;
            if s <= 0.0 {
                return Err("binary sigmoid must be positive".into());
            }
            Ok(Transform::Sigmoid(s))
        }
        other => Err(format!("objective {other:?} is not compiled")),
    }
}

impl CompiledModel {
    /// Compiles LightGBM model text (as LightGBM itself writes it) for a
    /// model with `n_features` inputs. `Err` says why the model is not
    /// compiled (see the module docs); the caller falls back to LightGBM.
    pub fn from_model_text(text: &str, n_features: usize) -> Result<Self, String> {
        let mut lines = text.lines().map(|l| l.strip_suffix('\r').unwrap_or(l)).peekable();
        let mut header: HashMap<&str, &str> = HashMap::new();
        while let Some(line) = lines.peek() {
            if line.starts_with("Tree=") {
                break;
            }
            if let Some((k, v)) = line.split_once('=') {
                header.insert(k, v);
            } else if !line.is_empty() {
                header.insert(line, "");
            }
            lines.next();
        }
        let int = |key: &str| -> Result<Option<i64>, String> {
            header
                .get(key)
                .map(|v| v.trim().parse::<i64>().map_err(|_| format!("header {key}={v:?} is not an integer")))
                .transpose()
        };
        let num_class = int("num_class")?.ok_or("model text has no num_class")?;
        let per_iteration = int("num_tree_per_iteration")?.unwrap_or(num_class);
        if num_class != 1 || per_iteration != 1 {
            return Err(format!("{per_iteration} trees per iteration ({num_class} classes)"));
        }
        let max_feature_idx = int("max_feature_idx")?.ok_or("model text has no max_feature_idx")?;
        if usize::try_from(max_feature_idx + 1).ok() != Some(n_features) {
            return Err(format!("max_feature_idx {max_feature_idx} for {n_features} features"));
        }
        let transform = parse_transform(header.get("objective").copied())?;
        let average_output = header.contains_key("average_output");

        let mut trees = Vec::new();
        let mut ended = false;
        while let Some(line) = lines.next() {
            if line == "end of trees" {
                ended = true;
                break;
            }
            if !line.starts_with("Tree=") {
                continue;
            }
            let mut kv: HashMap<&str, &str> = HashMap::new();
            for l in lines.by_ref() {
                if l.is_empty() {
                    break;
                }
                let (k, v) = l.split_once('=').ok_or_else(|| format!("tree line {l:?} has no '='"))?;
                kv.insert(k, v);
            }
            trees.push(parse_tree(&kv, n_features)?);
        }
        if !ended {
            return Err("model text has no 'end of trees' line".into());
        }
        if trees.is_empty() {
            return Err("model has no trees".into());
        }
        let mut nodes = Vec::new();
        let mut leaf_values = Vec::new();
        let mut leaf_start = Vec::with_capacity(trees.len());
        let mut max_leaves = 1;
        for (t, tree) in trees.iter().enumerate() {
            leaf_start.push(leaf_values.len());
            lay_out(tree, u32::try_from(t).map_err(|_| "too many trees".to_string())?, &mut nodes, &mut leaf_values)?;
            max_leaves = max_leaves.max(tree.num_leaves);
        }
        if nodes.iter().any(|n| n.threshold.is_nan()) {
            return Err("a threshold is NaN".into());
        }
        let kernel = if max_leaves <= 32 {
            Kernel::Narrow(Tables::new(&nodes, n_features))
        } else {
            Kernel::Wide(Tables::new(&nodes, n_features))
        };
        // GBDT: num_iteration_for_pred_ = trees / num_tree_per_iteration (1 here).
        #[allow(clippy::cast_precision_loss)] // a tree count is far below 2^53
        let average_over = average_output.then_some(trees.len() as f64);
        Ok(Self { n_features, kernel, leaf_values, leaf_start, average_over, transform })
    }

    /// Number of input features.
    pub fn num_features(&self) -> usize {
        self.n_features
    }

    /// Number of trees.
    pub fn num_trees(&self) -> usize {
        self.leaf_start.len()
    }

    /// The prediction for one row; `None` when `row.len()` is not
    /// [`CompiledModel::num_features`].
    pub fn predict(&self, row: &[f64]) -> Option<f64> {
        if row.len() != self.n_features {
            return None;
        }
        let mut sum = match &self.kernel {
            Kernel::Narrow(tables) => tables.sum_leaves(row, &self.leaf_start, &self.leaf_values),
            Kernel::Wide(tables) => tables.sum_leaves(row, &self.leaf_start, &self.leaf_values),
        };
        if let Some(n) = self.average_over {
            sum /= n;
        }
        Some(match self.transform {
            Transform::Identity => sum,
            Transform::Exp => sum.exp(),
            Transform::Sigmoid(s) => 1.0 / (1.0 + (-s * sum).exp()),
            Transform::Logistic => 1.0 / (1.0 + (-sum).exp()),
        })
    }
}
