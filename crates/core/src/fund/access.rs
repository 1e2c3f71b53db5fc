//! Who belongs to the fund and who may see a loan: plain rules on the viewer's role, shared by
//! the API, the web pages and the store's SQL filters.

use crate::auth::{CurrentUser, Role};

/// The roles that belong to the fund: they pay the monthly fee and take part in draws. An
/// accountant reads the books but is not a member.
pub const FUND_MEMBER_ROLES: [Role; 2] = [Role::Admin, Role::Member];

/// `FUND_MEMBER_ROLES` as an SQL list, for `role IN …` (checked against it by a unit test).
pub const FUND_MEMBER_ROLES_SQL: &str = "('admin', 'member')";

pub fn is_fund_member(role: Role) -> bool {
    FUND_MEMBER_ROLES.contains(&role)
}

/// A loan may be seen by its borrower and by main users; a `no_one` loan has no borrower.
pub fn may_see_loan(viewer: &CurrentUser, borrower: Option<i64>) -> bool {
    viewer.role.is_main() || borrower == Some(viewer.id)
}

/// A draw's proof and the months' commitments: every fund member (the draw is theirs to check)
/// and accountants, who read the books.
pub fn may_see_draws(role: Role) -> bool {
    is_fund_member(role) || role == Role::Accountant
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_and_members_belong_to_the_fund_accountants_do_not() {
        assert!(is_fund_member(Role::Admin));
        assert!(is_fund_member(Role::Member));
        assert!(!is_fund_member(Role::Accountant));
        let listed = FUND_MEMBER_ROLES
            .map(|r| format!("'{}'", r.as_str()))
            .join(", ");
        assert_eq!(FUND_MEMBER_ROLES_SQL, format!("({listed})"));
    }

    #[test]
    fn draws_are_seen_by_members_admins_and_accountants() {
        assert!(may_see_draws(Role::Member));
        assert!(may_see_draws(Role::Admin));
        assert!(may_see_draws(Role::Accountant));
        assert!(!may_see_draws(Role::Client));
        assert!(!may_see_draws(Role::Lender));
        assert!(!may_see_draws(Role::Viewer));
    }

    #[test]
    fn a_loan_is_seen_by_its_borrower_and_main_users() {
        assert!(may_see_loan(
            &CurrentUser::with_role(7, Role::Member),
            Some(7)
        ));
        assert!(!may_see_loan(
            &CurrentUser::with_role(7, Role::Member),
            Some(8)
        ));
        assert!(!may_see_loan(
            &CurrentUser::with_role(7, Role::Member),
            None
        ));
        assert!(!may_see_loan(
            &CurrentUser::with_role(7, Role::Accountant),
            Some(8)
        ));
        assert!(may_see_loan(
            &CurrentUser::with_role(1, Role::Admin),
            Some(8)
        ));
        assert!(may_see_loan(&CurrentUser::with_role(1, Role::Admin), None));
    }
}
