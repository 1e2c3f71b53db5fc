//! Who may read which books: plain rules on the viewer's role, shared by `/api/wallet`, the web
//! pages and the store's filters.

use crate::auth::{CurrentUser, Role};

/// Admins and accountants read every account; a member only their own.
pub fn sees_all_books(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Accountant)
}

/// The owner to filter a list of accounts by: `None` for a viewer who sees all books.
pub fn visible_owner(viewer: &CurrentUser) -> Option<i64> {
    (!sees_all_books(viewer.role)).then_some(viewer.id)
}

/// An account (a member's, or the fund's with no owner).
pub fn may_see_account(viewer: &CurrentUser, owner: Option<i64>) -> bool {
    sees_all_books(viewer.role) || owner == Some(viewer.id)
}

/// A journal transaction, given the owners of the accounts it touches.
pub fn may_see_transaction(viewer: &CurrentUser, owners: &[Option<i64>]) -> bool {
    sees_all_books(viewer.role) || owners.contains(&Some(viewer.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_see_their_own_books_admins_and_accountants_all() {
        let member = CurrentUser::with_role(7, Role::Member);
        assert_eq!(visible_owner(&member), Some(7));
        assert!(may_see_account(&member, Some(7)));
        assert!(!may_see_account(&member, Some(8)));
        assert!(!may_see_account(&member, None), "the fund's own accounts");
        assert!(may_see_transaction(&member, &[None, Some(7)]));
        assert!(!may_see_transaction(&member, &[None, Some(8)]));
        for role in [Role::Admin, Role::Accountant] {
            let reader = CurrentUser::with_role(1, role);
            assert_eq!(visible_owner(&reader), None);
            assert!(may_see_account(&reader, Some(8)));
            assert!(may_see_account(&reader, None));
            assert!(may_see_transaction(&reader, &[None, Some(8)]));
        }
    }
}
