//! The publication threshold: which segments the report may describe.
//!
//! A segment of fewer than `min_segment_size` customers is never described on its own:
//! an aggregate over a handful of people (a mean income, a product share) says too much
//! about each of them. Such segments, and DBSCAN noise when it is as small, are pooled
//! into "other"; when even the pool is below the threshold it is suppressed. Every chart
//! and card of the report is drawn from these groups, never from the segments directly.

use std::collections::BTreeMap;

use crate::inputs::Profiles;

/// What a group of customers stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    /// One segment, at or above the threshold.
    Segment(i32),
    /// DBSCAN noise, at or above the threshold.
    Noise,
    /// Small segments (and small noise) pooled.
    Other,
}

/// A group of customers the report may show. A segment the segment stage already
/// suppressed (its profile holds only a size) counts as small whatever its size.
#[derive(Debug, Clone)]
pub struct Group {
    pub kind: GroupKind,
    /// The segment's label, "noise" or "other".
    pub name: String,
    pub size: u64,
    /// The segments it is made of.
    pub segments: Vec<i32>,
}

/// Which group each segment is shown in, and what the reader is told about the rest.
#[derive(Debug, Clone)]
pub struct Publication {
    pub min_segment_size: usize,
    pub groups: Vec<Group>,
    group_of: BTreeMap<i32, usize>,
    /// Sentences for the page, e.g. that segments were merged into "other".
    pub notes: Vec<String>,
    /// Customers in no published group.
    pub suppressed_customers: u64,
}

impl Publication {
    pub fn new(profiles: &Profiles, min_segment_size: usize) -> Publication {
        let threshold = min_segment_size as u64;
        let mut groups = Vec::new();
        let mut small = Vec::new();
        for profile in &profiles.segments {
            if profile.size >= threshold && !profile.suppressed {
                groups.push(Group {
                    kind: if profile.segment < 0 {
                        GroupKind::Noise
                    } else {
                        GroupKind::Segment(profile.segment)
                    },
                    name: if profile.segment < 0 {
                        "noise".to_string()
                    } else {
                        profile.label.clone()
                    },
                    size: profile.size,
                    segments: vec![profile.segment],
                });
            } else {
                small.push((profile.segment, profile.size));
            }
        }
        let mut notes = Vec::new();
        let mut suppressed_customers = 0;
        if !small.is_empty() {
            let pooled: u64 = small.iter().map(|(_, size)| size).sum();
            let names = small
                .iter()
                .map(|(s, _)| {
                    if *s < 0 {
                        "noise".to_string()
                    } else {
                        format!("segment {s}")
                    }
                })
                .collect::<Vec<_>>();
            let list = join_words(&names);
            let each = if small.len() == 1 { "has" } else { "each have" };
            if pooled >= threshold {
                notes.push(format!(
                    "{list} {each} fewer than {min_segment_size} customers, the publication \
                     threshold: they are shown together as “other” ({pooled} customers)."
                ));
                groups.push(Group {
                    kind: GroupKind::Other,
                    name: "other".to_string(),
                    size: pooled,
                    segments: small.iter().map(|(s, _)| *s).collect(),
                });
            } else {
                suppressed_customers = pooled;
                notes.push(format!(
                    "{list} {each} fewer than {min_segment_size} customers, the publication \
                     threshold, and together they are still fewer: they are not shown \
                     ({pooled} customers left out of every chart and table)."
                ));
            }
        }
        let group_of = groups
            .iter()
            .enumerate()
            .flat_map(|(g, group)| group.segments.iter().map(move |&s| (s, g)))
            .collect();
        Publication {
            min_segment_size,
            groups,
            group_of,
            notes,
            suppressed_customers,
        }
    }

    /// The group a segment is shown in; `None` when it is suppressed (or unknown).
    pub fn group_of(&self, segment: i32) -> Option<usize> {
        self.group_of.get(&segment).copied()
    }
}

fn join_words(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [one] => capitalise(one),
        [init @ .., last] => format!("{} and {last}", capitalise(&init.join(", "))),
    }
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::SegmentProfile;

    fn profiles(sizes: &[(i32, u64)]) -> Profiles {
        Profiles {
            algorithm: "dbscan".into(),
            customers: sizes.iter().map(|(_, n)| n).sum(),
            segments: sizes
                .iter()
                .map(|&(segment, size)| SegmentProfile {
                    segment,
                    label: format!("label {segment}"),
                    size,
                    features: Vec::new(),
                    distinguishing: Vec::new(),
                    suppressed: false,
                })
                .collect(),
        }
    }

    #[test]
    fn small_segments_are_pooled_into_other() {
        let p = Publication::new(&profiles(&[(0, 50), (1, 6), (2, 7), (-1, 30)]), 10);
        let names: Vec<_> = p.groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["label 0", "noise", "other"]);
        assert_eq!(p.groups[2].size, 13);
        assert_eq!(p.group_of(1), Some(2));
        assert_eq!(p.group_of(2), Some(2));
        assert_eq!(p.group_of(-1), Some(1));
        assert!(p.notes[0].starts_with("Segment 1 and segment 2 each have fewer than 10"));
        assert_eq!(p.suppressed_customers, 0);
    }

    #[test]
    fn a_pool_below_the_threshold_is_suppressed() {
        let p = Publication::new(&profiles(&[(0, 50), (1, 4)]), 10);
        assert_eq!(p.groups.len(), 1);
        assert_eq!(p.group_of(1), None);
        assert_eq!(p.suppressed_customers, 4);
        assert!(p.notes[0].contains("are not shown (4 customers"));
    }

    #[test]
    fn nothing_is_said_when_every_segment_is_large_enough() {
        let p = Publication::new(&profiles(&[(0, 50), (1, 10)]), 10);
        assert_eq!(p.groups.len(), 2);
        assert!(p.notes.is_empty());
    }
}
