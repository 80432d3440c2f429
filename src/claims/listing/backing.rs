//! The claims an agent or a source is behind (`GET /v1/agents/{id}/claims`,
//! `GET /v1/sources/{id}/claims`): in which roles, as a membership filter of
//! the claim list (so the list's plans, keyset cursors and result rows
//! serve them too), and the roles of each listed claim, in one query per
//! page.

use std::collections::{HashMap, HashSet};

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};

use super::sql::Sql;
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

    /// `SELECT claim_id …` of one role's claims (a claim may come more than
    /// once); `join` is `CROSS JOIN` where the join order must be fixed
    /// (SQLite, which reads the set itself), else `JOIN`.
    fn write_role_set(&self, sql: &mut Sql, role: Role, join: &str) {
        let from = match role {
            Role::Speaker => "SELECT claim_id FROM attributions WHERE speaker_id = ",
            Role::StatingSource => "SELECT claim_id FROM attributions WHERE source_id = ",
            Role::CitedSource => "SELECT claim_id FROM attributions WHERE cited_source_id = ",
            Role::Publisher | Role::CitedPublisher => {
                let on = if role == Role::Publisher { "source_id" } else { "cited_source_id" };
                sql.push("SELECT attributions.claim_id AS claim_id FROM sources ").push(join);
                sql.push(" attributions ON attributions.").push(on).push(" = sources.id WHERE sources.publisher_id = ");
                sql.text(self.backer.id());
                return;
            }
        };
        sql.push(from).text(self.backer.id());
    }

    /// The claims in any of the roles, as a query for SQLite to read
    /// whole: `SELECT [DISTINCT] claim_id …`.
    pub fn write_set(&self, sql: &mut Sql, distinct: bool) {
        self.write_union(sql, distinct, "CROSS JOIN");
    }

    fn write_union(&self, sql: &mut Sql, distinct: bool, join: &str) {
        sql.push(if distinct { "SELECT DISTINCT claim_id FROM (" } else { "SELECT claim_id FROM (" });
        for (i, role) in self.roles.iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            self.write_role_set(sql, *role, join);
        }
        sql.push(") AS backed");
    }

    /// The filter checked for one claim (`claims.id`) by seeking its own
    /// attributions.
    pub fn write_probe(&self, sql: &mut Sql) {
        sql.push("(");
        for (i, role) in self.roles.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            let probe = match role {
                Role::Speaker => {
                    "EXISTS (SELECT 1 FROM attributions WHERE attributions.claim_id = claims.id \
                     AND attributions.speaker_id = "
                }
                Role::StatingSource => {
                    "EXISTS (SELECT 1 FROM attributions WHERE attributions.claim_id = claims.id \
                     AND attributions.source_id = "
                }
                Role::CitedSource => {
                    "EXISTS (SELECT 1 FROM attributions WHERE attributions.claim_id = claims.id \
                     AND attributions.cited_source_id = "
                }
                Role::Publisher => {
                    "EXISTS (SELECT 1 FROM attributions JOIN sources ON sources.id = attributions.source_id \
                     WHERE attributions.claim_id = claims.id AND sources.publisher_id = "
                }
                Role::CitedPublisher => {
                    "EXISTS (SELECT 1 FROM attributions \
                     JOIN sources ON sources.id = attributions.cited_source_id \
                     WHERE attributions.claim_id = claims.id AND sources.publisher_id = "
                }
            };
            sql.push(probe).text(self.backer.id()).push(")");
        }
        sql.push(")");
    }

    /// The filter as `claims.id IN (<the set>)`, for a planner that picks
    /// its own way to check it.
    pub fn write_in(&self, sql: &mut Sql) {
        sql.push("claims.id IN (");
        self.write_union(sql, false, "JOIN");
        sql.push(")");
    }

    /// The roles the backer has for each of these claims (one query),
    /// whatever the roles asked for: an item says all it is.
    pub fn roles_of(&self, conn: &mut DbConnection, claims: &[ClaimId]) -> StoreResult<HashMap<ClaimId, Vec<Role>>> {
        let mut out: HashMap<ClaimId, Vec<Role>> = HashMap::new();
        if claims.is_empty() {
            return Ok(out);
        }
        let id = self.backer.id();
        let mut sql = Sql::new();
        sql.push("SELECT attributions.claim_id AS claim_id, ");
        match &self.backer {
            Backer::Agent(_) => {
                sql.push("coalesce(attributions.speaker_id = ").text(id).push(", FALSE) AS first, ");
                sql.push("coalesce(stating.publisher_id = ").text(id).push(", FALSE) AS second, ");
                sql.push("coalesce(cited.publisher_id = ").text(id).push(", FALSE) AS third ");
            }
            Backer::Source(_) => {
                sql.push("attributions.source_id = ").text(id).push(" AS first, ");
                sql.push("coalesce(attributions.cited_source_id = ").text(id).push(", FALSE) AS second, ");
                sql.push("FALSE AS third ");
            }
        }
        sql.push(
            "FROM attributions JOIN sources AS stating ON stating.id = attributions.source_id \
             LEFT JOIN sources AS cited ON cited.id = attributions.cited_source_id \
             WHERE attributions.claim_id IN (",
        );
        for (i, claim) in claims.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.text(claim.as_str());
        }
        sql.push(")");
        let rows: Vec<RoleRow> = sql.load_any(conn)?;
        let possible = self.backer.roles();
        for row in rows {
            let roles = out.entry(row.claim_id).or_default();
            for (has, role) in [row.first, row.second, row.third].into_iter().zip(possible) {
                if has && !roles.contains(role) {
                    roles.push(*role);
                }
            }
        }
        for roles in out.values_mut() {
            roles.sort_by_key(|role| possible.iter().position(|r| r == role));
        }
        Ok(out)
    }
}

#[derive(QueryableByName)]
struct RoleRow {
    #[diesel(sql_type = Text)]
    claim_id: ClaimId,
    #[diesel(sql_type = Bool)]
    first: bool,
    #[diesel(sql_type = Bool)]
    second: bool,
    #[diesel(sql_type = Bool)]
    third: bool,
}
