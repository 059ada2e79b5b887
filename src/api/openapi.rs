//! The OpenAPI 3 document of the admin API (`GET /api/openapi.json`), built from the route
//! table the router is built from (`routes.rs`), with the request schemas derived from the
//! types the handlers parse (the provisioning file's sections, the login, the
//! administrator body).

use super::routes::{table, Body};
use crate::provision::file::*;
use axum::http::Method;
use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, Content, HttpMethod, InfoBuilder, ObjectBuilder, OpenApi, OpenApiBuilder,
    Paths, Ref, Required, ResponseBuilder, SecurityRequirement, Type,
};

fn components() -> utoipa::openapi::Components {
    ComponentsBuilder::new()
        .schema_from::<MediaRelaySetDef>()
        .schema_from::<BrandDef>()
        .schema_from::<CorporationDef>()
        .schema_from::<ClientDef>()
        .schema_from::<CallAclDef>()
        .schema_from::<RuleDef>()
        .schema_from::<DdiDef>()
        .schema_from::<UserDef>()
        .schema_from::<FriendDef>()
        .schema_from::<VoicemailDef>()
        .schema_from::<ExtensionDef>()
        .schema_from::<CallForwardDef>()
        .schema_from::<CarrierDef>()
        .schema_from::<DdiProviderDef>()
        .schema_from::<OutgoingRouteDef>()
        .schema_from::<RatingProfileDef>()
        .schema_from::<RateDef>()
        .schema_from::<super::auth::Login>()
        .schema_from::<super::admins::AdminBody>()
        .schema_from::<crate::model::Access>()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        )
        .build()
}

fn method(m: &Method) -> HttpMethod {
    match *m {
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::DELETE => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

/// The document, from the route table.
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    // (the document's own route: a handler is needed only by the router)
    for r in table(axum::routing::get(|| async {})) {
        let mut op = OperationBuilder::new()
            .summary(Some(r.summary.clone()))
            .operation_id(Some(format!(
                "{}{}",
                r.method.as_str().to_ascii_lowercase(),
                r.path.replace(['/', '{', '}', '.'], "_")
            )))
            .response(r.ok.to_string(), ResponseBuilder::new().description("done"));
        for (name, what) in r.query {
            // "<key>": free filters, not a parameter of their own
            if name.starts_with('<') {
                op = op.description(Some(format!("{}: {}", name, what)));
                continue;
            }
            op = op.parameter(
                ParameterBuilder::new()
                    .name(*name)
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(*what))
                    .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
            );
        }
        for seg in r.path.split('/') {
            if let Some(name) = seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                op = op.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
                );
            }
        }
        let content = match r.body {
            Body::None => None,
            Body::Json(schema) => Some((
                "application/json",
                Content::new(Some(Ref::from_schema_name(schema))),
            )),
            Body::Toml => Some((
                "application/toml",
                Content::new(Some(ObjectBuilder::new().schema_type(Type::String))),
            )),
        };
        if let Some((ctype, c)) = content {
            op = op
                .response(
                    "415",
                    ResponseBuilder::new().description("wrong Content-Type"),
                )
                .response(
                    "422",
                    ResponseBuilder::new()
                        .description("invalid: every error with its key, as for a file"),
                )
                .response(
                    "409",
                    ResponseBuilder::new().description("conflicts with what exists"),
                );
            op = op.request_body(Some(
                RequestBodyBuilder::new()
                    .content(ctype, c)
                    .required(Some(Required::True))
                    .build(),
            ));
        }
        if r.open {
            op = op.securities(Some(Vec::<SecurityRequirement>::new()));
        } else {
            op = op
                .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
                .response(
                    "401",
                    ResponseBuilder::new().description("no valid credential"),
                )
                .response(
                    "403",
                    ResponseBuilder::new().description("this administrator may not do this"),
                )
                .response(
                    "429",
                    ResponseBuilder::new()
                        .description("too many failed credentials from this address"),
                );
            if r.path.contains('{') {
                op = op.response(
                    "404",
                    ResponseBuilder::new().description("no such entity (or one of another client)"),
                );
            }
        }
        paths.add_path_operation(&r.path, vec![method(&r.method)], op);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("vozbox admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Every route but the login and the liveness check needs \
                     `Authorization: Bearer <token>` (the api-token file, or a session from \
                     POST /api/login). Resources take and give the provisioning file's keys.",
                )),
        )
        .paths(paths)
        .components(Some(components()))
        .build()
}

#[cfg(test)]
mod tests {
    use super::super::routes::schema_of;
    use super::*;
    use utoipa::ToSchema;

    #[test]
    fn every_kind_schema_is_a_component() {
        let doc = serde_json::to_value(document()).unwrap();
        for k in crate::provision::kinds::ALL {
            assert!(
                doc["components"]["schemas"][schema_of(k)].is_object(),
                "{}",
                schema_of(k)
            );
        }
        assert_eq!(UserDef::name(), "UserDef");
        assert!(doc["paths"]["/api/users/{client}/{name}"]["put"].is_object());
    }
}
