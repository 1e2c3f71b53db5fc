-- PostgreSQL: the ledger takes invoicing's account and transaction kinds, and a sent invoice
-- cannot change (only its status and the amounts paid and credited move), like the ledger.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind IN ('fund_cash',
    'gateway_clearing', 'member_contributions', 'member_loan_receivable',
    'member_ticket_receivable', 'ticket_income', 'client_receivable', 'client_credit',
    'invoicing_revenue', 'invoicing_tax_payable', 'invoicing_cash'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_check
    CHECK ((user_id IS NULL) = (kind IN ('fund_cash', 'gateway_clearing', 'ticket_income',
        'client_receivable', 'client_credit', 'invoicing_revenue', 'invoicing_tax_payable',
        'invoicing_cash')));
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_client_check
    CHECK ((client_id IS NOT NULL) = (kind IN ('client_receivable', 'client_credit')));

ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check CHECK (kind IN
    ('payment', 'loan_disbursement', 'reversal', 'ticket_disbursement', 'ticket_repayment',
     'invoice_sent', 'invoice_payment', 'credit_allocation', 'credit_note', 'credit_refund'));

CREATE FUNCTION saghat_invoice_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.sent_at IS NOT NULL THEN
            RAISE EXCEPTION 'invoice % is sent: it cannot be deleted, only credited', OLD.id;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.sent_at IS NOT NULL AND
       (NEW.id, NEW.kind, NEW.client_id, NEW.number, NEW.series, NEW.number_year,
        NEW.number_seq, NEW.currency, NEW.issue_date, NEW.due_date, NEW.language,
        NEW.prices_include_tax, NEW.discount_kind, NEW.discount_value, NEW.notes, NEW.terms,
        NEW.seller, NEW.buyer, NEW.payee_iban, NEW.lines_net, NEW.discount, NEW.tax, NEW.total,
        NEW.credits_invoice_id, NEW.recurring_id, NEW.recurring_period, NEW.sent_at,
        NEW.created_by, NEW.created_at)
       IS DISTINCT FROM
       (OLD.id, OLD.kind, OLD.client_id, OLD.number, OLD.series, OLD.number_year,
        OLD.number_seq, OLD.currency, OLD.issue_date, OLD.due_date, OLD.language,
        OLD.prices_include_tax, OLD.discount_kind, OLD.discount_value, OLD.notes, OLD.terms,
        OLD.seller, OLD.buyer, OLD.payee_iban, OLD.lines_net, OLD.discount, OLD.tax, OLD.total,
        OLD.credits_invoice_id, OLD.recurring_id, OLD.recurring_period, OLD.sent_at,
        OLD.created_by, OLD.created_at) THEN
        RAISE EXCEPTION 'invoice % is sent: only its status and the amounts paid and credited change', OLD.id;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER invoices_immutable_once_sent BEFORE UPDATE OR DELETE ON invoices
    FOR EACH ROW EXECUTE FUNCTION saghat_invoice_immutable();

-- Lines and taxes of a sent invoice are fixed: no insert, update or delete.
CREATE FUNCTION saghat_invoice_part_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND EXISTS
         (SELECT 1 FROM invoices WHERE id = OLD.invoice_id AND sent_at IS NOT NULL) THEN
        RAISE EXCEPTION '% of sent invoice % cannot change', TG_TABLE_NAME, OLD.invoice_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND EXISTS
         (SELECT 1 FROM invoices WHERE id = NEW.invoice_id AND sent_at IS NOT NULL) THEN
        RAISE EXCEPTION '% of sent invoice % cannot change', TG_TABLE_NAME, NEW.invoice_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER invoice_lines_immutable_once_sent BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
    FOR EACH ROW EXECUTE FUNCTION saghat_invoice_part_immutable();
CREATE TRIGGER invoice_taxes_immutable_once_sent BEFORE INSERT OR UPDATE OR DELETE ON invoice_taxes
    FOR EACH ROW EXECUTE FUNCTION saghat_invoice_part_immutable();
CREATE TRIGGER invoices_no_truncate BEFORE TRUNCATE ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION saghat_append_only();
