//! What a save writes: the entities changed since the last save, each whole ([`Change`]),
//! found through [`Tracked`], the state whose every mutation goes through a method that
//! notes the key it touched. A save's size depends on what it changed, not on the user count.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use stepup_protocol::Secret;

use super::{PersistedState, SessionRecord, UserRecord};

/// One entity as it is after a save, or its removal. Applying a change twice, or applying
/// changes a snapshot already holds, leaves the same state (each one sets a key's final value).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum Change {
    /// User `user.id` is now `user`.
    PutUser {
        /// The whole user.
        user: Box<UserRecord>,
    },
    /// User `id` is gone.
    RemoveUser {
        /// The user id.
        id: String,
    },
    /// Session `sid` is now `session`.
    #[serde(rename_all = "camelCase")]
    PutSession {
        /// The session id.
        sid: String,
        /// The whole session.
        session: SessionRecord,
    },
    /// Session `sid` is gone (rotated, revoked, expired).
    RemoveSession {
        /// The session id.
        sid: String,
    },
    /// An elevated token's `jti` is used (until `exp`).
    PutTokenJti {
        /// The token id.
        jti: String,
        /// Its expiry, unix seconds.
        exp: i64,
    },
    /// A used token `jti` has expired.
    RemoveTokenJti {
        /// The token id.
        jti: String,
    },
    /// An external-auth assertion's `jti` is used (until `exp`).
    PutExternalJti {
        /// The assertion id.
        jti: String,
        /// Its expiry, unix seconds.
        exp: i64,
    },
    /// A used assertion `jti` has expired.
    RemoveExternalJti {
        /// The assertion id.
        jti: String,
    },
    /// The demo user and its device passkey as enrolled.
    #[serde(rename_all = "camelCase")]
    SetDemo {
        /// `demo_user_id`.
        user_id: Option<String>,
        /// `demo_passkey_state`.
        passkey_state: Option<Secret>,
    },
}

impl Change {
    /// Applies the change to `state`.
    pub(super) fn apply(self, state: &mut PersistedState) {
        match self {
            Change::PutUser { user } => {
                state.users.insert(user.id.clone(), *user);
            }
            Change::RemoveUser { id } => {
                state.users.remove(&id);
            }
            Change::PutSession { sid, session } => {
                state.sessions.insert(sid, session);
            }
            Change::RemoveSession { sid } => {
                state.sessions.remove(&sid);
            }
            Change::PutTokenJti { jti, exp } => {
                state.used_token_jtis.insert(jti, exp);
            }
            Change::RemoveTokenJti { jti } => {
                state.used_token_jtis.remove(&jti);
            }
            Change::PutExternalJti { jti, exp } => {
                state.used_external_jtis.insert(jti, exp);
            }
            Change::RemoveExternalJti { jti } => {
                state.used_external_jtis.remove(&jti);
            }
            Change::SetDemo {
                user_id,
                passkey_state,
            } => {
                state.demo_user_id = user_id;
                state.demo_passkey_state = passkey_state;
            }
        }
    }
}

/// The keys touched since the last save.
#[derive(Debug, Default)]
struct Dirty {
    users: BTreeSet<String>,
    sessions: BTreeSet<String>,
    token_jtis: BTreeSet<String>,
    external_jtis: BTreeSet<String>,
    demo: bool,
}

/// The persisted state, readable as a [`PersistedState`] (`Deref`) and changed only through
/// methods that note what they touch, so that a save can write just that.
#[derive(Debug)]
pub(crate) struct Tracked {
    state: PersistedState,
    dirty: Dirty,
}

impl std::ops::Deref for Tracked {
    type Target = PersistedState;

    fn deref(&self) -> &PersistedState {
        &self.state
    }
}

impl Tracked {
    /// A state with nothing to save yet.
    pub(crate) fn new(state: PersistedState) -> Self {
        Self {
            state,
            dirty: Dirty::default(),
        }
    }

    /// The state itself (its pending changes are dropped).
    #[cfg(any(test, feature = "fuzzing"))]
    pub(crate) fn into_inner(self) -> PersistedState {
        self.state
    }

    /// User `id`, to change (noted whether or not it is changed).
    pub(crate) fn user_mut(&mut self, id: &str) -> Option<&mut UserRecord> {
        let user = self.state.users.get_mut(id)?;
        self.dirty.users.insert(id.to_owned());
        Some(user)
    }

    /// Adds (or replaces) a user.
    pub(crate) fn insert_user(&mut self, user: UserRecord) {
        self.dirty.users.insert(user.id.clone());
        self.state.users.insert(user.id.clone(), user);
    }

    /// Adds (or replaces) a session.
    pub(crate) fn insert_session(&mut self, sid: String, session: SessionRecord) {
        self.dirty.sessions.insert(sid.clone());
        self.state.sessions.insert(sid, session);
    }

    /// Ends a session.
    pub(crate) fn remove_session(&mut self, sid: &str) {
        if self.state.sessions.remove(sid).is_some() {
            self.dirty.sessions.insert(sid.to_owned());
        }
    }

    /// Marks an elevated token's `jti` used until `exp`.
    pub(crate) fn insert_used_token_jti(&mut self, jti: String, exp: i64) {
        self.dirty.token_jtis.insert(jti.clone());
        self.state.used_token_jtis.insert(jti, exp);
    }

    /// Marks an external-auth assertion's `jti` used until `exp`.
    pub(crate) fn insert_used_external_jti(&mut self, jti: String, exp: i64) {
        self.dirty.external_jtis.insert(jti.clone());
        self.state.used_external_jtis.insert(jti, exp);
    }

    /// Sets the demo user and its device passkey state.
    pub(crate) fn set_demo(&mut self, user_id: Option<String>, passkey_state: Option<Secret>) {
        self.dirty.demo = true;
        self.state.demo_user_id = user_id;
        self.state.demo_passkey_state = passkey_state;
    }

    /// Drops the sessions and used `jti`s that have expired at `now` (unix seconds).
    pub(crate) fn prune(&mut self, now: i64) {
        let Self { state, dirty } = self;
        state.sessions.retain(|sid, s| {
            let keep = s.expires_at > now;
            if !keep {
                dirty.sessions.insert(sid.clone());
            }
            keep
        });
        for (map, noted) in [
            (&mut state.used_token_jtis, &mut dirty.token_jtis),
            (&mut state.used_external_jtis, &mut dirty.external_jtis),
        ] {
            map.retain(|jti, exp| {
                let keep = *exp > now;
                if !keep {
                    noted.insert(jti.clone());
                }
                keep
            });
        }
    }

    /// The changes since the last call (each touched key as it is now); forgets them.
    pub(crate) fn take_changes(&mut self) -> Vec<Change> {
        let dirty = std::mem::take(&mut self.dirty);
        let state = &self.state;
        let mut out = Vec::new();
        out.extend(
            dirty
                .users
                .into_iter()
                .map(|id| match state.users.get(&id) {
                    Some(user) => Change::PutUser {
                        user: Box::new(user.clone()),
                    },
                    None => Change::RemoveUser { id },
                }),
        );
        out.extend(
            dirty
                .sessions
                .into_iter()
                .map(|sid| match state.sessions.get(&sid) {
                    Some(session) => Change::PutSession {
                        session: session.clone(),
                        sid,
                    },
                    None => Change::RemoveSession { sid },
                }),
        );
        out.extend(
            dirty
                .token_jtis
                .into_iter()
                .map(|jti| match state.used_token_jtis.get(&jti) {
                    Some(exp) => Change::PutTokenJti { exp: *exp, jti },
                    None => Change::RemoveTokenJti { jti },
                }),
        );
        out.extend(dirty.external_jtis.into_iter().map(|jti| {
            match state.used_external_jtis.get(&jti) {
                Some(exp) => Change::PutExternalJti { exp: *exp, jti },
                None => Change::RemoveExternalJti { jti },
            }
        }));
        if dirty.demo {
            out.push(Change::SetDemo {
                user_id: state.demo_user_id.clone(),
                passkey_state: state.demo_passkey_state.clone(),
            });
        }
        out
    }

    /// Forgets the changes (a snapshot holds them all).
    pub(super) fn forget_changes(&mut self) {
        self.dirty = Dirty::default();
    }

    /// The generation a snapshot of this state is written with.
    pub(super) fn set_generation(&mut self, generation: u64) {
        self.state.journal_generation = generation;
    }
}
