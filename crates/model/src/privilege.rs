//! Privileges, lowest to highest (spec 01 §1.7). Each includes the ones below it.

/// A caller's privilege on a section, catalog, view or record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Privilege {
    Deny,
    Available,
    Search,
    View,
    Edit,
    Create,
    Export,
    Delete,
    Access,
    Admin,
}

impl Privilege {
    /// The codes an administrator may assign, highest first, as the API lists them.
    pub const ASSIGNABLE: [Privilege; 9] = [
        Privilege::Admin,
        Privilege::Access,
        Privilege::Delete,
        Privilege::Export,
        Privilege::Create,
        Privilege::Edit,
        Privilege::View,
        Privilege::Search,
        Privilege::Available,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Privilege::Deny => "deny",
            Privilege::Available => "available",
            Privilege::Search => "search",
            Privilege::View => "view",
            Privilege::Edit => "edit",
            Privilege::Create => "create",
            Privilege::Export => "export",
            Privilege::Delete => "delete",
            Privilege::Access => "access",
            Privilege::Admin => "admin",
        }
    }

    /// True when this privilege includes `other`.
    pub fn includes(self, other: Privilege) -> bool {
        self >= other && self != Privilege::Deny
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_follows_the_spec() {
        assert!(Privilege::Admin.includes(Privilege::Edit));
        assert!(!Privilege::View.includes(Privilege::Edit));
        assert!(!Privilege::Deny.includes(Privilege::Deny));
        assert_eq!(Privilege::ASSIGNABLE[0].code(), "admin");
    }
}
