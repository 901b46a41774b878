//! Embedded, versioned, checksummed migrations (the sqlx model): each backend keeps an ordered
//! list, applies the missing ones at start-up inside one transaction under a lock (SQLite's
//! write lock, a PostgreSQL advisory lock), and refuses to start when an applied migration's
//! text changed since.

use crate::StoreError;
use sha2::{Digest, Sha256};

/// One schema change. Versions only grow; an applied migration is never edited (add a new one).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) description: &'static str,
    pub(crate) sql: &'static str,
}

impl Migration {
    pub(crate) fn checksum(&self) -> Vec<u8> {
        Sha256::digest(self.sql.as_bytes()).to_vec()
    }
}

/// Which of `migrations` still have to run, given the `(version, checksum)` pairs already
/// applied; an applied version whose checksum differs, or one this build does not know, is an
/// error (the database was migrated by another build).
pub(crate) fn pending<'m>(
    migrations: &'m [Migration],
    applied: &[(i64, Vec<u8>)],
) -> Result<Vec<&'m Migration>, StoreError> {
    for (version, checksum) in applied {
        match migrations.iter().find(|m| m.version == *version) {
            Some(known) if known.checksum() == *checksum => {}
            Some(known) => {
                return Err(StoreError::Backend(format!(
                    "migration {version} ({}) was applied with different SQL; \
                     the database was migrated by another build",
                    known.description
                )))
            }
            None => {
                return Err(StoreError::Backend(format!(
                    "the database has migration {version}, which this build does not know \
                     (a newer build migrated it); upgrade this build"
                )))
            }
        }
    }
    Ok(migrations
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIST: &[Migration] = &[
        Migration {
            version: 1,
            description: "one",
            sql: "CREATE TABLE a (x INT)",
        },
        Migration {
            version: 2,
            description: "two",
            sql: "CREATE TABLE b (x INT)",
        },
    ];

    #[test]
    fn pending_skips_applied_and_refuses_edited_or_unknown() {
        assert_eq!(pending(LIST, &[]).expect("fresh").len(), 2);
        let applied = [(1, LIST[0].checksum())];
        let left = pending(LIST, &applied).expect("one applied");
        assert_eq!(left.iter().map(|m| m.version).collect::<Vec<_>>(), [2]);
        assert!(pending(LIST, &[(1, vec![0; 32])]).is_err());
        assert!(pending(LIST, &[(3, vec![0; 32])]).is_err());
    }
}
