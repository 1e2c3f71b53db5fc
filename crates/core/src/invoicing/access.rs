//! Who may do what in invoicing (seed 004's four roles): ONE pure function, which the services,
//! the API and the pages all ask, so a rule cannot differ between them.

use crate::auth::Role;

/// Something an invoicing user may try to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    ReadClients,
    WriteClients,
    /// Read invoices and credit notes (a client: only its own, and never drafts).
    ReadInvoices,
    /// Create, edit and delete drafts.
    WriteInvoices,
    SendInvoices,
    /// The PDF and e-invoice files of a sent invoice.
    DownloadInvoices,
    ReadStatement,
    ReadPayments,
    WritePayments,
    IssueCreditNotes,
    ReadProducts,
    ManageProducts,
    /// Read the recurring templates and what they made (staff only).
    ReadRecurring,
    ManageRecurring,
    ManageUsers,
}

impl Action {
    pub const ALL: [Action; 15] = [
        Action::ReadClients,
        Action::WriteClients,
        Action::ReadInvoices,
        Action::WriteInvoices,
        Action::SendInvoices,
        Action::DownloadInvoices,
        Action::ReadStatement,
        Action::ReadPayments,
        Action::WritePayments,
        Action::IssueCreditNotes,
        Action::ReadProducts,
        Action::ManageProducts,
        Action::ReadRecurring,
        Action::ManageRecurring,
        Action::ManageUsers,
    ];

    fn is_read(self) -> bool {
        matches!(
            self,
            Action::ReadClients
                | Action::ReadInvoices
                | Action::DownloadInvoices
                | Action::ReadStatement
                | Action::ReadPayments
                | Action::ReadProducts
                | Action::ReadRecurring
        )
    }
}

/// Whether a user of `role` (linked to `own_client` when a client user) may do `action` on
/// something of `target_client` (`None`: not about one client, e.g. a list of all of them).
/// A client user's portal covers its own client's invoices, files, statement and payments and
/// nothing else; whether an invoice is still a draft is the caller's check
/// ([`client_may_see_invoice`]).
pub fn allowed(
    role: Role,
    own_client: Option<i64>,
    action: Action,
    target_client: Option<i64>,
) -> bool {
    match role {
        Role::Admin => true,
        Role::Accountant => action != Action::ManageUsers,
        Role::Viewer => action.is_read(),
        Role::Client => {
            matches!(
                action,
                Action::ReadInvoices
                    | Action::DownloadInvoices
                    | Action::ReadStatement
                    | Action::ReadPayments
            ) && own_client.is_some()
                && target_client == own_client
        }
        // Fund members and lenders have no part in invoicing.
        Role::Member | Role::Lender => false,
    }
}

/// A client sees an invoice of its own only once it is sent: drafts are the seller's work.
pub fn client_may_see_invoice(own_client: Option<i64>, client_id: i64, is_draft: bool) -> bool {
    own_client == Some(client_id) && !is_draft
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ROLES: [Role; 6] = [
        Role::Admin,
        Role::Accountant,
        Role::Viewer,
        Role::Client,
        Role::Member,
        Role::Lender,
    ];

    /// The whole matrix, written out as the seed describes the roles.
    fn expected(role: Role, action: Action) -> bool {
        use Action::*;
        match role {
            Role::Admin => true,
            Role::Accountant => action != ManageUsers,
            Role::Viewer => matches!(
                action,
                ReadClients
                    | ReadInvoices
                    | DownloadInvoices
                    | ReadStatement
                    | ReadPayments
                    | ReadProducts
                    | ReadRecurring
            ),
            Role::Client => matches!(
                action,
                ReadInvoices | DownloadInvoices | ReadStatement | ReadPayments
            ),
            Role::Member | Role::Lender => false,
        }
    }

    #[test]
    fn every_role_and_action_on_its_own_client() {
        for role in ALL_ROLES {
            for action in Action::ALL {
                let own = (role == Role::Client).then_some(5);
                assert_eq!(
                    allowed(role, own, action, Some(5)),
                    expected(role, action),
                    "{role:?} {action:?}"
                );
            }
        }
    }

    #[test]
    fn a_client_never_reaches_another_client_or_the_lists_of_all() {
        for action in Action::ALL {
            assert!(
                !allowed(Role::Client, Some(5), action, Some(6)),
                "{action:?}"
            );
            assert!(!allowed(Role::Client, Some(5), action, None), "{action:?}");
            // A client user not linked to any client sees nothing at all.
            assert!(!allowed(Role::Client, None, action, None), "{action:?}");
            assert!(!allowed(Role::Client, None, action, Some(5)), "{action:?}");
        }
    }

    #[test]
    fn staff_roles_do_not_depend_on_the_target_client() {
        for role in [Role::Admin, Role::Accountant, Role::Viewer] {
            for action in Action::ALL {
                assert_eq!(
                    allowed(role, None, action, None),
                    allowed(role, None, action, Some(9)),
                    "{role:?} {action:?}"
                );
            }
        }
        assert!(!allowed(Role::Viewer, None, Action::WriteInvoices, None));
        assert!(!allowed(Role::Accountant, None, Action::ManageUsers, None));
        assert!(allowed(
            Role::Accountant,
            None,
            Action::IssueCreditNotes,
            None
        ));
    }

    #[test]
    fn a_client_sees_its_own_sent_invoices_never_drafts() {
        assert!(client_may_see_invoice(Some(3), 3, false));
        assert!(!client_may_see_invoice(Some(3), 3, true));
        assert!(!client_may_see_invoice(Some(3), 4, false));
        assert!(!client_may_see_invoice(None, 3, false));
    }
}
