//! ELEVATE's login, sign-up, refresh and OTP routes, for the rate limits
//! (`crate::http::rate_limit`). Full paths, as requests carry them.

use crate::http::rate_limit::Door;

pub const DOORS: &[(&str, Door)] = &[
    ("/user/v1/account/login", Door::Login),
    ("/user/v1/admin/login", Door::Login),
    ("/user/v1/account/create", Door::SignUp),
    ("/user/v1/admin/create", Door::SignUp),
    ("/user/v1/account/generateToken", Door::Refresh),
    ("/user/v1/account/registrationOtp", Door::Otp),
    ("/user/v1/account/generateOtp", Door::Otp),
    ("/user/v1/account/resetPassword", Door::Otp),
    ("/user/v1/account/changePassword", Door::Otp),
];
