//! The trail walk. Every step of a claim's provenance is an attribution of
//! that same claim (a citation leads to the cited source's attributions of
//! the claim), so one indexed query loads every step the walk could take and
//! the walk itself runs here, in memory: the number of queries does not grow
//! with the depth or the size of the graph.

use std::collections::{HashMap, HashSet, VecDeque};

use uuid::Uuid;

use super::model::{Edge, EdgeType, Node, Origin, OriginReason, Provenance, SourceNode};
use crate::attributions::model::{Mode, Stance};
use crate::attributions::store::AttributionRow;
use crate::card::{AgentSummary, SourceSummary};
use crate::claims::model::Claim;
use crate::db::write::{StoreError, StoreResult};
use crate::ids::{AgentId, SourceId};

/// An end of an edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Claim,
    /// A source, by its index in [`Trail::sources`].
    Source(usize),
    /// An agent, by its index in [`Trail::agents`].
    Agent(usize),
}

#[derive(Debug)]
struct Step {
    from: Key,
    to: Key,
    edge_type: EdgeType,
    /// The attribution's index in the rows the walk was given.
    row: usize,
}

/// The walked graph, with ids as stored; [`Trail::into_provenance`] turns it
/// into the API's graph once the summaries of its sources and agents are
/// loaded.
#[derive(Debug)]
pub struct Trail<'a> {
    rows: &'a [AttributionRow],
    stances: Vec<(Mode, Stance)>,
    sources: Vec<&'a SourceId>,
    agents: Vec<&'a AgentId>,
    /// Depth of each source, `None` for sources beyond `max_depth`.
    depth: Vec<Option<i32>>,
    steps: Vec<Step>,
    origins: Vec<Key>,
    unresolved: Vec<usize>,
    denials: Vec<Key>,
    truncated: Vec<Key>,
}

/// Keys in the order first added, each once.
#[derive(Default)]
struct Distinct {
    keys: Vec<Key>,
    seen: HashSet<Key>,
}

impl Distinct {
    fn add(&mut self, key: Key) {
        if self.seen.insert(key) {
            self.keys.push(key);
        }
    }
}

/// Interns ids as small indices, in order of first appearance.
struct Interner<'a, T> {
    ids: Vec<&'a T>,
    index: HashMap<&'a T, usize>,
}

impl<'a, T: std::hash::Hash + Eq> Interner<'a, T> {
    fn new() -> Interner<'a, T> {
        Interner { ids: Vec::new(), index: HashMap::new() }
    }

    fn intern(&mut self, id: &'a T) -> usize {
        *self.index.entry(id).or_insert_with(|| {
            self.ids.push(id);
            self.ids.len() - 1
        })
    }
}

impl<'a> Trail<'a> {
    /// Walks the claim's attributions (`rows`, all of one claim) up to
    /// `max_depth` citation hops from the sources where the trail starts.
    pub fn walk(rows: &'a [AttributionRow], max_depth: i32) -> Trail<'a> {
        let stances: Vec<(Mode, Stance)> = rows.iter().map(|r| (r.mode, r.stance)).collect();
        let mut sources = Interner::new();
        let mut agents = Interner::new();
        let row_source: Vec<usize> = rows.iter().map(|r| sources.intern(&r.source_id)).collect();
        let row_cited: Vec<Option<usize>> =
            rows.iter().map(|r| r.cited_source_id.as_ref().map(|c| sources.intern(c))).collect();
        let n = sources.ids.len();
        let mut states = vec![false; n];
        let mut cites: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (&s, &c) in row_source.iter().zip(&row_cited) {
            states[s] = true;
            if let Some(c) = c
                && !cites[s].contains(&c)
            {
                cites[s].push(c);
            }
        }

        // The trail starts at the sources no one else on record cites for the
        // claim. A loop of sources citing one another that no source outside
        // it cites has no way in: each of its members starts the trail, being
        // as near the reader as any other.
        let component = strongly_connected_components(&cites);
        let mut entered = vec![false; n];
        for (v, targets) in cites.iter().enumerate() {
            for &w in targets {
                if component[v] != component[w] {
                    entered[component[w]] = true;
                }
            }
        }
        let is_entry: Vec<bool> = (0..n).map(|s| states[s] && !entered[component[s]]).collect();

        // Breadth first, so each source gets its shortest distance.
        let mut depth: Vec<Option<i32>> = vec![None; n];
        let mut queue = VecDeque::new();
        for s in (0..n).filter(|&s| is_entry[s]) {
            depth[s] = Some(0);
            queue.push_back(s);
        }
        while let Some(v) = queue.pop_front() {
            let d = depth[v].unwrap_or(0);
            if d >= max_depth {
                continue;
            }
            for &w in &cites[v] {
                if depth[w].is_none() {
                    depth[w] = Some(d + 1);
                    queue.push_back(w);
                }
            }
        }

        let mut steps = Vec::new();
        let mut truncated = Distinct::default();
        let mut denials = Distinct::default();
        let mut origins = Distinct::default();
        for (i, row) in rows.iter().enumerate() {
            let s = row_source[i];
            if depth[s].is_none() {
                continue;
            }
            let step = |from, to, edge_type| Step { from, to, edge_type, row: i };
            if is_entry[s] {
                steps.push(step(Key::Claim, Key::Source(s), EdgeType::States));
            }
            // Where this attribution's trail ends, if it ends in the graph. A
            // citation's speaker spoke in the cited source.
            let mut end = Some(Key::Source(s));
            let mut speaker_in = Some(s);
            match row_cited[i] {
                Some(c) if depth[c].is_some() => {
                    steps.push(step(Key::Source(s), Key::Source(c), EdgeType::Cites));
                    // A cited source with attributions of its own goes on.
                    end = (!states[c]).then_some(Key::Source(c));
                    speaker_in = Some(c);
                }
                Some(_) => {
                    truncated.add(Key::Source(s));
                    end = None;
                    speaker_in = None;
                }
                None => {}
            }
            let mut denier = Key::Source(s);
            if let (Some(speaker), Some(at)) = (row.speaker_id.as_ref(), speaker_in) {
                let agent = Key::Agent(agents.intern(speaker));
                steps.push(step(Key::Source(at), agent, EdgeType::Says));
                end = Some(agent);
                denier = agent;
            }
            match stances[i].1 {
                Stance::Affirms => {
                    if let Some(end) = end {
                        origins.add(end);
                    }
                }
                Stance::Denies => denials.add(denier),
                Stance::Questions => {}
            }
        }

        let unresolved: Vec<usize> = (0..n).filter(|&s| depth[s].is_some() && !states[s]).collect();

        Trail {
            rows,
            stances,
            sources: sources.ids,
            agents: agents.ids,
            depth,
            steps,
            origins: origins.keys,
            unresolved,
            denials: denials.keys,
            truncated: truncated.keys,
        }
    }

    /// Ids of the sources in the graph.
    pub fn source_ids(&self) -> Vec<SourceId> {
        self.sources.iter().zip(&self.depth).filter(|(_, d)| d.is_some()).map(|(id, _)| (*id).clone()).collect()
    }

    /// Ids of the speakers in the graph.
    pub fn speaker_ids(&self) -> Vec<AgentId> {
        self.agents.iter().map(|id| (*id).clone()).collect()
    }

    /// The API's graph, with the summaries of the trail's sources and agents.
    pub fn into_provenance(
        self,
        claim: Claim,
        sources: &HashMap<SourceId, SourceSummary>,
        agents: &HashMap<AgentId, AgentSummary>,
    ) -> StoreResult<Provenance> {
        let missing = |what: &str, id: &str| StoreError::Broken(format!("the trail names a missing {what} {id}"));
        let mut source_nodes = Vec::new();
        for (s, id) in self.sources.iter().enumerate() {
            if let Some(depth) = self.depth[s] {
                let source = sources.get(*id).ok_or_else(|| missing("source", id.as_str()))?.clone();
                source_nodes.push((s, SourceNode { source, depth }));
            }
        }
        source_nodes.sort_by_key(|(_, n)| (n.depth, n.source.title.to_lowercase(), n.source.id.clone()));
        let mut agent_nodes = Vec::new();
        for (a, id) in self.agents.iter().enumerate() {
            agent_nodes.push((a, agents.get(*id).ok_or_else(|| missing("agent", id.as_str()))?.clone()));
        }
        agent_nodes.sort_by_key(|(_, a)| (a.name.to_lowercase(), a.id.clone()));

        // Lists follow the order of `nodes`.
        let mut rank: HashMap<Key, usize> = HashMap::from([(Key::Claim, 0)]);
        let mut ids: HashMap<Key, Uuid> = HashMap::from([(Key::Claim, claim.id.uuid())]);
        for (position, (s, node)) in source_nodes.iter().enumerate() {
            rank.insert(Key::Source(*s), position + 1);
            ids.insert(Key::Source(*s), node.source.id.uuid());
        }
        for (position, (a, agent)) in agent_nodes.iter().enumerate() {
            rank.insert(Key::Agent(*a), source_nodes.len() + position + 1);
            ids.insert(Key::Agent(*a), agent.id.uuid());
        }
        let id_of =
            |key: &Key| ids.get(key).copied().ok_or_else(|| StoreError::Broken("the trail lost a node".to_string()));
        let in_order = |keys: Vec<Key>| -> StoreResult<Vec<Uuid>> {
            let mut keys = keys;
            keys.sort_by_key(|k| rank.get(k).copied().unwrap_or(usize::MAX));
            keys.iter().map(id_of).collect()
        };

        let mut steps = self.steps;
        steps.sort_by_key(|s| (rank.get(&s.from).copied(), s.edge_type as u8, rank.get(&s.to).copied(), s.row));
        let edges = steps
            .iter()
            .map(|step| {
                let row = &self.rows[step.row];
                let (mode, stance) = self.stances[step.row];
                Ok(Edge {
                    from: id_of(&step.from)?,
                    to: id_of(&step.to)?,
                    edge_type: step.edge_type,
                    attribution_id: row.id.uuid(),
                    mode,
                    stance,
                })
            })
            .collect::<StoreResult<Vec<_>>>()?;

        let max_depth_reached = source_nodes.iter().map(|(_, n)| n.depth).max().unwrap_or(0);
        let mut origin_keys = self.origins;
        origin_keys.sort_by_key(|k| rank.get(k).copied().unwrap_or(usize::MAX));
        let origins = origin_keys
            .iter()
            .map(|key| {
                let id = id_of(key)?;
                Ok(match key {
                    Key::Source(s) => Origin::Source {
                        id,
                        title: sources.get(self.sources[*s]).map(|src| src.title.clone()).unwrap_or_default(),
                        why: if self.unresolved.contains(s) {
                            OriginReason::ColdTrail
                        } else {
                            OriginReason::OwnAuthority
                        },
                    },
                    Key::Agent(a) => Origin::Agent {
                        id,
                        name: agents.get(self.agents[*a]).map(|agent| agent.name.clone()).unwrap_or_default(),
                        why: OriginReason::Speaker,
                    },
                    Key::Claim => return Err(StoreError::Broken("the claim is no origin of itself".to_string())),
                })
            })
            .collect::<StoreResult<Vec<Origin>>>()?;
        Ok(Provenance {
            claim,
            independent_origins: origins.len(),
            origins,
            unresolved: in_order(self.unresolved.into_iter().map(Key::Source).collect())?,
            denials: in_order(self.denials)?,
            truncated: in_order(self.truncated)?,
            max_depth_reached,
            nodes: source_nodes
                .into_iter()
                .map(|(_, n)| Node::Source(n))
                .chain(agent_nodes.into_iter().map(|(_, a)| Node::Agent(a)))
                .collect(),
            edges,
        })
    }
}

/// Tarjan's strongly connected components, without recursion so that a long
/// citation chain cannot overflow the stack. Returns each node's component.
fn strongly_connected_components(successors: &[Vec<usize>]) -> Vec<usize> {
    const UNSEEN: usize = usize::MAX;
    let n = successors.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut component = vec![UNSEEN; n];
    let (mut next_index, mut next_component) = (0, 0);
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        let mut calls = vec![(root, 0)];
        index[root] = next_index;
        low[root] = next_index;
        next_index += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, child)) = calls.last() {
            if let Some(&w) = successors[v].get(child) {
                if let Some(call) = calls.last_mut() {
                    call.1 += 1;
                }
                if index[w] == UNSEEN {
                    index[w] = next_index;
                    low[w] = next_index;
                    next_index += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component[w] = next_component;
                    if w == v {
                        break;
                    }
                }
                next_component += 1;
            }
        }
    }
    component
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_loop_is_one_component_and_what_it_cites_another() {
        // 0 -> 1 -> 0, 1 -> 2
        let components = strongly_connected_components(&[vec![1], vec![0, 2], vec![]]);
        assert_eq!(components[0], components[1]);
        assert_ne!(components[0], components[2]);
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000;
        let successors: Vec<Vec<usize>> = (0..n).map(|i| if i + 1 < n { vec![i + 1] } else { vec![] }).collect();
        let components = strongly_connected_components(&successors);
        let distinct: HashSet<usize> = components.into_iter().collect();
        assert_eq!(distinct.len(), n);
    }
}
