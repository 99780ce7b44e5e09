//! Each person's share of what the server does at once: uploads being received, table views being
//! read, exports being streamed. Every one of those has a global bound too (the upload permits, the
//! views' connections, the export places); a share inside it keeps one person from holding all of
//! it, so that the next person is served. (Found: one account holding the four upload places of
//! `--max-concurrent-uploads 4` refused everyone's uploads; two exports nobody read refused
//! everyone's for a minute.) Stored bytes and queued imports are counted in the database instead
//! (see `uploads` and `jobs`), since they outlive a request.
//!
//! A person is their account; on a server without accounts, their address (behind a trusted proxy,
//! the one it forwarded).

use crate::auth::{Asker, Viewer};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Whose share a request takes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Who {
    Account(i64),
    Address(String),
}

impl Who {
    pub fn of(asker: &Asker) -> Self {
        match &asker.viewer {
            Viewer::Person(p) => Who::Account(p.id),
            // As the per-address connection cap counts: an IPv6 address with its /64.
            Viewer::Open | Viewer::Anonymous => Who::Address(match asker.address.parse() {
                Ok(ip) => crate::server::client::machine(ip).to_string(),
                Err(_) => asker.address.clone(),
            }),
        }
    }
}

/// One kind of thing done at once (uploads, say), counted per person, at most `each` per person.
#[derive(Debug)]
pub struct Share {
    each: usize,
    held: Mutex<HashMap<Who, usize>>,
    /// Told whenever a place is given back, for [`Share::take_within`].
    freed: tokio::sync::Notify,
}

impl Share {
    pub fn new(each: usize) -> Arc<Self> {
        Arc::new(Self { each: each.max(1), held: Mutex::new(HashMap::new()), freed: tokio::sync::Notify::new() })
    }

    /// One more for `who`, waiting up to `wait` for one of their own to be given back: a person's
    /// own pages queue behind each other for a moment (a search typed quickly) instead of being
    /// refused at once.
    pub async fn take_within(self: &Arc<Self>, who: Who, wait: std::time::Duration) -> Option<Held> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Listening before trying, so a place given back in between is not missed.
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if let Some(held) = self.take(who.clone()) {
                return Some(held);
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return None;
            }
        }
    }

    /// How many one person may hold at once.
    pub fn each(&self) -> usize {
        self.each
    }

    /// One more for `who`, unless they hold their share already. Given back when dropped.
    pub fn take(self: &Arc<Self>, who: Who) -> Option<Held> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let n = held.entry(who.clone()).or_insert(0);
        if *n >= self.each {
            return None;
        }
        *n += 1;
        Some(Held { share: self.clone(), who })
    }

    /// How many `who` holds now.
    pub fn of(&self, who: &Who) -> usize {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).get(who).copied().unwrap_or(0)
    }
}

/// One place of a person's share, given back when dropped.
#[derive(Debug)]
pub struct Held {
    share: Arc<Share>,
    who: Who,
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.share.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = held.get_mut(&self.who) {
            *n -= 1;
            // Gone when nothing is held: the map holds the people active now, not everyone ever.
            if *n == 0 {
                held.remove(&self.who);
            }
        }
        drop(held);
        self.share.freed.notify_waiters();
    }
}

/// The shares of one server (`--max-uploads-per-person`, `--max-views-per-person`,
/// `--max-exports-per-person`).
#[derive(Debug, Clone)]
pub struct Shares {
    pub uploads: Arc<Share>,
    pub views: Arc<Share>,
    pub exports: Arc<Share>,
    /// How long a page waits for one of its asker's own pages to finish before it is refused.
    pub view_wait: std::time::Duration,
}

impl Shares {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            uploads: Share::new(config.max_uploads_per_person),
            views: Share::new(config.max_views_per_person),
            exports: Share::new(config.max_exports_per_person),
            view_wait: config.view_wait,
        }
    }
}

/// `owner`'s stored files and kept tables when they fill their share of stored bytes
/// (`--max-stored-bytes-per-person`), in words ending with `then` ("send this file again");
/// `None` while there is room.
pub async fn stored_full(
    db: &crate::db::Db,
    owner: i64,
    share: u64,
    then: &str,
) -> Result<Option<String>, sqlx::Error> {
    let mine = crate::db::uploads::stored_bytes(db, Some(owner)).await?;
    Ok((mine >= share).then(|| stored_words(mine, share, then)))
}

/// The sentence for a person whose stored bytes (`mine`) fill their `share`, or leave too little
/// of it for a file being received.
pub fn stored_words(mine: u64, share: u64, then: &str) -> String {
    use crate::format::bytes;
    let what = "your uploaded files and the tables your replaces keep for an undo";
    let full = if mine >= share {
        format!("{what} take {}, all of the {} one person may store", bytes(mine), bytes(share))
    } else {
        format!(
            "this file does not fit in what is left of the {} one person may store ({what} take {})",
            bytes(share),
            bytes(mine)
        )
    };
    format!(
        "{full}; delete imports you no longer need in the history (that removes their files and kept tables) or \
         wait until they expire, and {then}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_holds_at_most_their_share_and_others_are_not_counted_against_it() {
        let share = Share::new(2);
        let ana = Who::Account(1);
        let (a, b) = (share.take(ana.clone()).unwrap(), share.take(ana.clone()).unwrap());
        assert!(share.take(ana.clone()).is_none());
        let bob = share.take(Who::Account(2));
        assert!(bob.is_some());
        assert!(share.take(Who::Address("192.0.2.1".into())).is_some());
        drop(a);
        assert_eq!(share.of(&ana), 1);
        assert!(share.take(ana.clone()).is_some());
        drop(b);
        assert_eq!(share.held.lock().unwrap().len(), 1, "only bob's place is held now");
    }

    #[tokio::test]
    async fn a_place_given_back_goes_to_who_waits_for_it() {
        let share = Share::new(1);
        let first = share.take(Who::Account(1)).unwrap();
        let waiting = tokio::spawn({
            let share = share.clone();
            async move { share.take_within(Who::Account(1), std::time::Duration::from_secs(5)).await.is_some() }
        });
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        drop(first);
        assert!(waiting.await.unwrap(), "the waiting one got the place");
        let _held = share.take(Who::Account(1)).unwrap();
        assert!(share.take_within(Who::Account(1), std::time::Duration::from_millis(20)).await.is_none());
    }

    #[test]
    fn a_share_of_zero_is_one() {
        let share = Share::new(0);
        let _held = share.take(Who::Account(1)).expect("one");
        assert!(share.take(Who::Account(1)).is_none());
    }
}
