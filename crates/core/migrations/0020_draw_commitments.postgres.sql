-- PostgreSQL: a published commitment is never changed or removed, and a draw is revealed once.
CREATE FUNCTION saghat_draw_commitment_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'a published draw commitment cannot be removed';
    END IF;
    IF NEW.jalali_year <> OLD.jalali_year OR NEW.jalali_month <> OLD.jalali_month
       OR NEW.commitment <> OLD.commitment OR NEW.seed <> OLD.seed
       OR NEW.committed_at <> OLD.committed_at THEN
        RAISE EXCEPTION 'a published draw commitment cannot change';
    END IF;
    IF OLD.revealed_at IS NOT NULL THEN
        RAISE EXCEPTION 'a draw is revealed once';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER draw_commitments_fixed BEFORE UPDATE OR DELETE ON draw_commitments
    FOR EACH ROW EXECUTE FUNCTION saghat_draw_commitment_fixed();
CREATE TRIGGER draw_commitments_no_truncate BEFORE TRUNCATE ON draw_commitments
    FOR EACH STATEMENT EXECUTE FUNCTION saghat_append_only();
