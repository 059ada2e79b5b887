//! Voicemail messages: one record per message, the WAV file beside the database named by
//! the message's id. A message is written file first (renamed into place), then its record
//! — with the e-mail announcing it, in one transaction; it is removed record first, then
//! file. What a crash leaves between the two steps (a file without a record, a record
//! whose file is gone) is cleared by `reconcile` at start.

use super::accounts::enqueue;
use super::schema::VOICEMAIL_MESSAGES;
use super::{put_u64, Reader, Store, StoreError};
use crate::model::{Mail, VoicemailMessage};
use redb::ReadableTable;

impl Store {
    /// Records a message (new, or its new/old state changed) and queues its e-mail, in one
    /// durable transaction.
    pub fn put_voicemail(
        &self,
        m: &VoicemailMessage,
        mail: Option<&Mail>,
    ) -> Result<(), StoreError> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(VOICEMAIL_MESSAGES)?;
            put_u64(&mut t, m.id, m)?;
        }
        if let Some(mail) = mail {
            enqueue(&tx, mail)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes the record of message `id`; whether there was one.
    pub fn delete_voicemail(&self, id: u64) -> Result<bool, StoreError> {
        self.remove_numbered(VOICEMAIL_MESSAGES, id)
    }

    /// Marks message `id` heard, in one transaction; false when it is gone (deleted
    /// meanwhile: nothing is written back).
    pub fn voicemail_heard(&self, id: u64) -> Result<bool, StoreError> {
        let tx = self.db.begin_write()?;
        let found = {
            let mut t = tx.open_table(VOICEMAIL_MESSAGES)?;
            let old: Option<VoicemailMessage> = match t.get(id)? {
                Some(v) => Some(serde_json::from_slice(v.value())?),
                None => None,
            };
            match old {
                Some(mut m) if m.new => {
                    m.new = false;
                    put_u64(&mut t, id, &m)?;
                    true
                }
                Some(_) => true,
                None => false,
            }
        };
        tx.commit()?;
        Ok(found)
    }

    /// Every message, oldest first.
    pub fn voicemails(&self) -> Result<Vec<VoicemailMessage>, StoreError> {
        self.all_numbered(VOICEMAIL_MESSAGES)
    }

    /// The highest message id in the table (0: none).
    pub fn last_voicemail_id(&self) -> Result<u64, StoreError> {
        self.last_numbered(VOICEMAIL_MESSAGES)
    }
}

impl Reader {
    /// Every message, oldest first (`vozbox voicemail` without a server).
    pub fn voicemails(&self) -> Result<Vec<VoicemailMessage>, StoreError> {
        self.all_numbered(VOICEMAIL_MESSAGES)
    }
}
