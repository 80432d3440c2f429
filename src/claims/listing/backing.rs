//! The claims an agent or a source is behind (`GET /v1/agents/{id}/claims`,
//! `GET /v1/sources/{id}/claims`): in which roles, read from
//! `claim_backers` (one row per claim and backer, with the roles as bits
//! and the claim's sort keys, kept by triggers; see its migration), so a
//! page is one index range in any sort and any roles; the claim list's
//! keyset cursors and result rows serve them too.

use std::collections::{HashMap, HashSet};

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Text};

use super::request::{Phase, Request};
use super::sql::{self, SortKeys, Sql};
use crate::claims::model::Role;
use crate::db::DbConnection;
use crate::db::write::{StoreError, StoreResult};
use crate::ids::{AgentId, ClaimId, SourceId};

/// Whose claims.
#[derive(Debug, Clone)]
pub enum Backer {
    Agent(AgentId),
    Source(SourceId),
}

/// An agent's or a source's claims in some of its roles.
#[derive(Debug, Clone)]
pub struct Backing {
    pub backer: Backer,
    /// Never empty; each role fits the backer.
    pub roles: Vec<Role>,
}

impl Backer {
    /// The roles this kind of backer can have, in the order items list them.
    pub fn roles(&self) -> &'static [Role] {
        match self {
            Backer::Agent(_) => &[Role::Speaker, Role::Publisher, Role::CitedPublisher],
            Backer::Source(_) => &[Role::StatingSource, Role::CitedSource],
        }
    }

    fn id(&self) -> &str {
        match self {
            Backer::Agent(id) => id.as_str(),
            Backer::Source(id) => id.as_str(),
        }
    }
}

impl Backing {
    /// The backing of `role` (comma-separated roles; all of them when
    /// absent); a role the backer cannot have is a 400 naming `role`.
    pub fn new(backer: Backer, role: Option<&str>) -> StoreResult<Backing> {
        let possible = backer.roles();
        let roles = match role.map(str::trim).filter(|r| !r.is_empty()) {
            None => possible.to_vec(),
            Some(list) => {
                let mut chosen = HashSet::new();
                for name in list.split(',').map(str::trim) {
                    match Role::parse(name).filter(|r| possible.contains(r)) {
                        Some(role) => chosen.insert(role),
                        None => {
                            let names: Vec<&str> = possible.iter().map(|r| r.as_str()).collect();
                            return Err(StoreError::bad_parameter(
                                "role",
                                format!(
                                    "`{}` is not one of {}",
                                    name.chars().take(40).collect::<String>(),
                                    names.join(", ")
                                ),
                            ));
                        }
                    };
                }
                possible.iter().copied().filter(|r| chosen.contains(r)).collect()
            }
        };
        Ok(Backing { backer, roles })
    }

    /// The roles as bits of `claim_backers.roles` (see the `claim_backers`
    /// migration).
    fn mask(&self) -> i64 {
        self.roles.iter().map(|role| bit(*role)).fold(0, |mask, bit| mask | bit)
    }

    /// One phase of a page: the backer's rows of `claim_backers`, which
    /// carry the claims' sort keys, in the sort's order from the position
    /// on, each joined to its claim; a page reads about as many rows as it
    /// shows. `join` is the dialect's join that keeps that order (SQLite's
    /// `CROSS JOIN`).
    pub(super) fn page_sql(&self, request: &Request, phase: Phase, limit: i64, join: &str) -> Sql {
        let mut sql = sql::select_listed(None, None);
        sql.push("claim_backers ").push(join);
        sql.push(" claims ON claims.id = claim_backers.claim_id WHERE claim_backers.backer_id = ");
        sql.text(self.backer.id());
        if self.roles.len() < self.backer.roles().len() {
            // A number of ours, not the client's: written into the SQL.
            sql.push(&format!(" AND (claim_backers.roles & {}) <> 0", self.mask()));
        }
        let keys = SortKeys { table: "claim_backers", id: "claim_id" };
        sql::after_and_order_by(&mut sql, request, phase, keys);
        sql.limit(limit);
        sql
    }

    /// The roles the backer has for each of these claims (one query),
    /// whatever the roles asked for: an item says all it is.
    pub fn roles_of(&self, conn: &mut DbConnection, claims: &[ClaimId]) -> StoreResult<HashMap<ClaimId, Vec<Role>>> {
        if claims.is_empty() {
            return Ok(HashMap::new());
        }
        let mut sql = Sql::new();
        sql.push("SELECT claim_id, roles FROM claim_backers WHERE backer_id = ").text(self.backer.id());
        sql.push(" AND claim_id").in_list(claims.iter().map(ClaimId::as_str));
        let rows: Vec<RoleRow> = sql.load_any(conn)?;
        let possible = self.backer.roles();
        Ok(rows
            .into_iter()
            .map(|row| {
                let roles = possible.iter().copied().filter(|role| i64::from(row.roles) & bit(*role) != 0).collect();
                (row.claim_id, roles)
            })
            .collect())
    }
}

/// A role's bit in `claim_backers.roles`.
fn bit(role: Role) -> i64 {
    match role {
        Role::Speaker => 1,
        Role::Publisher => 2,
        Role::CitedPublisher => 4,
        Role::StatingSource => 8,
        Role::CitedSource => 16,
    }
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Text)]
    claim_id: ClaimId,
    #[diesel(sql_type = Integer)]
    roles: i32,
}
