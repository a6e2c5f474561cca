//! Sunbird's sign-up routes, for the rate limits (`crate::http::rate_limit`):
//! the same quota as ELEVATE's sign-ups. Full paths, as requests carry them.

use crate::http::rate_limit::Door;

pub const DOORS: &[(&str, Door)] = &[
    ("/api/user/v1/create", Door::SignUp),
    ("/api/user/v2/create", Door::SignUp),
    ("/api/user/v3/create", Door::SignUp),
    ("/api/user/v1/sso/create", Door::SignUp),
    ("/api/user/v1/signup", Door::SignUp),
    ("/api/user/v2/signup", Door::SignUp),
    ("/v1/user/create", Door::SignUp),
    ("/v2/user/create", Door::SignUp),
    ("/v3/user/create", Door::SignUp),
    ("/v1/ssouser/create", Door::SignUp),
    ("/v1/user/signup", Door::SignUp),
    ("/v2/user/signup", Door::SignUp),
];
