//! Who a page is for: the logged-in administrator of a request and the CSRF token its
//! forms carry (made by `session.rs`, read by every page).

use crate::api::scope::Principal;

/// The form field of the CSRF token.
pub const CSRF_FIELD: &str = "_csrf";

/// The logged-in administrator of a request (a request extension).
#[derive(Clone)]
pub struct Session {
    pub principal: Principal,
    /// The token every form of this session carries.
    pub csrf: String,
}
