//! Core values as JS values, core errors as JS errors: the one place each is built.

use napi::bindgen_prelude::*;
use napi::{check_status, sys, Env, JsValue, JSON};

use crate::core::error::{code, Error as CoreError, ErrorKind, Rejected};
use crate::core::json::json_string;
use crate::core::UserData;

/// The JS error for a core error; `undefined` only if not even a plain Error can be made.
pub(super) fn rejection(env: &Env, e: CoreError) -> sys::napi_value {
    match build_js_error(env, &e) {
        Ok(error) => error.raw(),
        Err(_) => plain_error(env, &e.to_string()),
    }
}

/// Building the user data failed: reject with the exception JS left pending, if any.
pub(super) fn rejection_of_napi_error(env: &Env, e: Error) -> sys::napi_value {
    take_exception(env).unwrap_or_else(|| plain_error(env, &e.reason))
}

/// The JS exception pending on this thread (JS code run by a Node-API call threw: a getter, a
/// setter on `Array.prototype`), cleared, so that it fails nothing else; `None` if there is none.
pub(super) fn take_exception(env: &Env) -> Option<sys::napi_value> {
    let mut pending = false;
    let mut exception = std::ptr::null_mut();
    // SAFETY: Node-API calls on the JS thread.
    unsafe {
        (sys::napi_is_exception_pending(env.raw(), &mut pending) == sys::Status::napi_ok
            && pending
            && sys::napi_get_and_clear_last_exception(env.raw(), &mut exception)
                == sys::Status::napi_ok)
            .then_some(exception)
    }
}

fn plain_error(env: &Env, message: &str) -> sys::napi_value {
    match env.create_error(Error::new(Status::GenericFailure, message.to_owned())) {
        Ok(error) => error.raw(),
        Err(_) => {
            let mut undefined = std::ptr::null_mut();
            // SAFETY: Node-API call on the JS thread.
            unsafe { sys::napi_get_undefined(env.raw(), &mut undefined) };
            undefined
        }
    }
}

/// `{ data, userId }` built with one `JSON.parse` of text the core already checked is JSON.
pub(super) fn to_js_user_data<'env>(env: &'env Env, user_data: UserData) -> Result<Object<'env>> {
    let UserData { data, user_id } = user_data;
    let mut text = String::with_capacity(data.len() + user_id.as_ref().map_or(0, String::len) + 24);
    text.push_str("{\"data\":");
    text.push_str(&data);
    if let Some(id) = &user_id {
        text.push_str(",\"userId\":");
        text.push_str(id);
    }
    text.push('}');
    let parse: Function<String, Object> = json(env)?.get_named_property_unchecked("parse")?;
    let mut result = parse.call(text)?;
    if user_id.is_none() {
        // civic-sip-api's result always has the key, `undefined` where the reply had no userId.
        result.set_named_property("userId", ())?;
    }
    Ok(result)
}

fn json<'env>(env: &'env Env) -> Result<JSON<'env>> {
    env.get_global()?
        .get_named_property_unchecked::<JSON>("JSON")
}

/// The one place core errors become JS errors: an `Error` with civic-sip-api's message, a
/// `code`, and for HTTP errors `response: { statusCode, body }`.
pub(super) fn to_js_error(env: &Env, e: CoreError) -> Error {
    match build_js_error(env, &e) {
        Ok(js_error) => Error::from(js_error.to_unknown()),
        // Only when the environment is shutting down; the message is still civic-sip-api's.
        Err(_) => Error::new(Status::GenericFailure, e.to_string()),
    }
}

fn build_js_error<'env>(env: &'env Env, e: &CoreError) -> Result<Object<'env>> {
    let message = e.message_with(&|body| render_json_v8(env, body));
    let mut error = if e.code() == code::INVALID_ARGUMENT {
        // Node's convention for ERR_INVALID_ARG_TYPE, and index.js's own argument errors.
        type_error(env, &message)?
    } else {
        env.create_error(Error::new(Status::GenericFailure, message))?
    };
    error.set_named_property("code", e.code())?;
    if let Some(why) = e.rejected() {
        // Why the response token was refused, which civic-sip-api's one message does not say.
        error.set_named_property("reason", why.as_str())?;
        match *why {
            Rejected::Expired { exp } => {
                error.set_named_property("expiredAt", env.create_date(exp * 1000.0)?)?
            }
            Rejected::NotYetValid { not_before } => {
                error.set_named_property("notBefore", env.create_date(not_before * 1000.0)?)?
            }
            _ => {}
        }
    }
    if matches!(e.kind(), ErrorKind::Aborted) {
        // What `fetch` and Node's own APIs reject with, so `error.name === 'AbortError'` works.
        error.set_named_property("name", "AbortError")?;
    }
    // Civic's status under `response`, as HTTP clients (got, axios) keep it: a top-level
    // `statusCode` or `status` would become the app's own answer in Express's or Koa's error
    // handler (Civic's 401 for a wrong app key is the app's 500).
    if let Some(body) = e.response_body() {
        let mut response = Object::new(env)?;
        if let Some(status) = e.status_code() {
            response.set_named_property("statusCode", u32::from(status))?;
        }
        response.set_named_property("body", body)?;
        error.set_named_property("response", response)?;
    }
    Ok(error)
}

fn type_error<'env>(env: &'env Env, message: &str) -> Result<Object<'env>> {
    let message = env.create_string(message)?;
    let mut error = std::ptr::null_mut();
    // SAFETY: a Node-API call on the JS thread with this thread's env; no code argument.
    check_status!(unsafe {
        sys::napi_create_type_error(env.raw(), std::ptr::null_mut(), message.raw(), &mut error)
    })?;
    Ok(Object::from_raw(env.raw(), error))
}

/// `JSON.stringify(JSON.parse(body))`, or of the body text where it is not JSON, by V8 itself so
/// the message is byte-for-byte civic-sip-api's (number formatting, key order).
fn render_json_v8(env: &Env, body: Option<&str>) -> String {
    let Some(text) = body else {
        return "undefined".to_owned();
    };
    // Only text serde_json accepts goes to JSON.parse, so it cannot throw.
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return json_string(text);
    }
    let render = || -> Result<String> {
        let json = json(env)?;
        let parse: Function<String, Unknown> = json.get_named_property_unchecked("parse")?;
        json.stringify(parse.call(text.to_owned())?)
    };
    render().unwrap_or_else(|_| crate::core::error::render_json_serde(body))
}
