-- SQLite: a published commitment is never changed or removed, and a draw is revealed once.
CREATE TRIGGER draw_commitments_fixed BEFORE UPDATE OF jalali_year, jalali_month, commitment, seed, committed_at ON draw_commitments
BEGIN SELECT RAISE(ABORT, 'a published draw commitment cannot change'); END;
CREATE TRIGGER draw_commitments_revealed_once BEFORE UPDATE OF loan_id, revealed_at, proof ON draw_commitments
WHEN OLD.revealed_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'a draw is revealed once'); END;
CREATE TRIGGER draw_commitments_kept BEFORE DELETE ON draw_commitments
BEGIN SELECT RAISE(ABORT, 'a published draw commitment cannot be removed'); END;
