//! Who may read which report: one pure function, asked by the API, the pages and the exports.

use crate::auth::Role;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Report {
    Fund,
    Tickets,
    Invoicing,
    /// A fund member's own statement (admins and accountants: anyone's).
    Statement,
}

impl Report {
    pub const ALL: [Report; 4] = [
        Report::Fund,
        Report::Tickets,
        Report::Invoicing,
        Report::Statement,
    ];
}

/// Admins read every report; accountants the fund's and invoicing's; lenders the tickets';
/// members only their own statement (whose it is, the statement's service checks).
pub fn may_read(role: Role, report: Report) -> bool {
    match role {
        Role::Admin => true,
        Role::Accountant => matches!(report, Report::Fund | Report::Invoicing | Report::Statement),
        Role::Lender => report == Report::Tickets,
        Role::Member => report == Report::Statement,
        Role::Client | Role::Viewer => false,
    }
}

/// Whether `role` may read any member's statement, not only its own.
pub fn reads_every_statement(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Accountant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_reads_what_the_issue_gives_it() {
        use Report::*;
        let table = [
            (Role::Admin, vec![Fund, Tickets, Invoicing, Statement]),
            (Role::Accountant, vec![Fund, Invoicing, Statement]),
            (Role::Lender, vec![Tickets]),
            (Role::Member, vec![Statement]),
            (Role::Client, vec![]),
            (Role::Viewer, vec![]),
        ];
        for (role, allowed) in table {
            for report in Report::ALL {
                assert_eq!(
                    may_read(role, report),
                    allowed.contains(&report),
                    "{role:?} {report:?}"
                );
            }
        }
        assert!(reads_every_statement(Role::Accountant) && !reads_every_statement(Role::Member));
    }
}
