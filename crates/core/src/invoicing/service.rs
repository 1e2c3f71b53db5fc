//! The invoicing use cases for clients, contacts and products: each checks the actor with
//! `access::allowed`, validates, writes in one transaction with its audit entry, and returns
//! the module's error. Invoices are in `invoices`, money in `payments`.

use crate::platform::response_cache::Area;
use serde_json::json;
use sqlx::AnyConnection;

use super::access::{allowed, Action};
use super::error::InvoicingError;
use super::model::{Address, TaxCategory, Unit};
use super::store::{
    self, ClientRow, ClientUserRow, ClientValues, ContactRow, ProductRow, ProductValues,
};
use crate::auth::error::AuthError;
use crate::auth::service::{self as auth_service, UserDetails};
use crate::auth::store as auth_store;
use crate::auth::{CurrentUser, Role};
use crate::ctx::Ctx;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::clock::to_db_time;
use crate::platform::currency::Currency;
use crate::platform::money::Amount;

/// The client a `client` user is linked to (`None` for staff, or a client user not linked).
pub(crate) async fn own_client(
    conn: &mut AnyConnection,
    actor: &CurrentUser,
) -> Result<Option<i64>, sqlx::Error> {
    if actor.role == Role::Client {
        store::client_of_user(conn, actor.id).await
    } else {
        Ok(None)
    }
}

/// Refuses unless the actor may do `action` on `target_client`.
pub(crate) async fn require(
    conn: &mut AnyConnection,
    actor: &CurrentUser,
    action: Action,
    target_client: Option<i64>,
) -> Result<Option<i64>, InvoicingError> {
    let own = own_client(conn, actor).await?;
    if allowed(actor.role, own, action, target_client) {
        Ok(own)
    } else {
        Err(InvoicingError::Forbidden)
    }
}

pub(crate) async fn audit(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    meta: &RequestMeta,
    actor: Option<&CurrentUser>,
    action: &str,
    target: String,
    details: serde_json::Value,
) -> Result<(), sqlx::Error> {
    audit::record(
        conn,
        ctx.now(),
        meta,
        AuditEntry {
            actor_user_id: actor.map(|a| a.id),
            action,
            target,
            details,
        },
    )
    .await
}

pub(crate) fn now_text(ctx: &Ctx) -> String {
    to_db_time(ctx.now())
}

fn required(field: &str, value: &str, max: usize) -> Result<String, InvoicingError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(InvoicingError::invalid(
            field,
            "This field may not be blank.",
        ));
    }
    if value.chars().count() > max {
        return Err(InvoicingError::invalid(
            field,
            format!("Ensure this field has no more than {max} characters."),
        ));
    }
    Ok(value.to_string())
}

fn optional(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, InvoicingError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => required(field, v, max).map(Some),
    }
}

fn email(field: &str, value: Option<&str>) -> Result<Option<String>, InvoicingError> {
    let value = optional(field, value, 254)?;
    if let Some(v) = &value {
        let ok = v
            .split_once('@')
            .is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !v.contains(' '));
        if !ok {
            return Err(InvoicingError::invalid(
                field,
                "Enter a valid email address.",
            ));
        }
    }
    Ok(value)
}

// ---------- clients ----------

#[derive(Debug, Clone)]
pub struct ClientInput {
    /// `company` or `individual`.
    pub kind: String,
    pub name: String,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub address: Address,
    /// `fa` or `en`: the language of its invoices.
    pub language: String,
    pub currency: Currency,
    pub payment_terms_days: i64,
    pub notes: String,
    /// Payment reminders by e-mail (on unless the client asked for none).
    pub send_reminders: bool,
}

struct CleanClient {
    kind: String,
    name: String,
    tax_id: Option<String>,
    email: Option<String>,
    address: Address,
    language: String,
    notes: String,
}

fn clean_client(input: &ClientInput) -> Result<CleanClient, InvoicingError> {
    if !matches!(input.kind.as_str(), "company" | "individual") {
        return Err(InvoicingError::invalid(
            "kind",
            "Must be company or individual.",
        ));
    }
    if !matches!(input.language.as_str(), "fa" | "en") {
        return Err(InvoicingError::invalid("language", "Must be fa or en."));
    }
    if !(0..=365).contains(&input.payment_terms_days) {
        return Err(InvoicingError::invalid(
            "payment_terms_days",
            "Must be between 0 and 365.",
        ));
    }
    let country = input.address.country_code.trim().to_ascii_uppercase();
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(InvoicingError::invalid(
            "country_code",
            "Must be an ISO 3166-1 alpha-2 code.",
        ));
    }
    Ok(CleanClient {
        kind: input.kind.clone(),
        name: required("name", &input.name, 200)?,
        tax_id: optional("tax_id", input.tax_id.as_deref(), 50)?,
        email: email("email", input.email.as_deref())?,
        address: Address {
            street: input.address.street.trim().to_string(),
            city: input.address.city.trim().to_string(),
            postal_code: input.address.postal_code.trim().to_string(),
            country_code: country,
        },
        language: input.language.clone(),
        notes: input.notes.trim().to_string(),
    })
}

impl CleanClient {
    fn values<'a>(&'a self, input: &'a ClientInput) -> ClientValues<'a> {
        ClientValues {
            kind: &self.kind,
            name: &self.name,
            tax_id: self.tax_id.as_deref(),
            email: self.email.as_deref(),
            street: &self.address.street,
            city: &self.address.city,
            postal_code: &self.address.postal_code,
            country_code: &self.address.country_code,
            language: &self.language,
            currency: input.currency.code(),
            payment_terms_days: input.payment_terms_days,
            notes: &self.notes,
            send_reminders: input.send_reminders,
        }
    }
}

pub async fn create_client(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &ClientInput,
    meta: &RequestMeta,
) -> Result<ClientRow, InvoicingError> {
    let clean = clean_client(input)?;
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::WriteClients, None).await?;
    let now = now_text(ctx);
    let id = store::insert_client(&mut tx, &clean.values(input), &now).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "client_created",
        format!("client:{id}"),
        json!({ "name": clean.name }),
    )
    .await?;
    let row = store::client(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(row)
}

pub async fn update_client(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
    input: &ClientInput,
    meta: &RequestMeta,
) -> Result<ClientRow, InvoicingError> {
    let clean = clean_client(input)?;
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::WriteClients, Some(id)).await?;
    let before = store::client(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    // Invoices carry the client's currency: once invoiced it stays (sent invoices keep theirs).
    if before.currency != input.currency.code() && store::client_has_invoices(&mut tx, id).await? {
        return Err(InvoicingError::invalid(
            "currency",
            "The client has invoices in its currency: it cannot change.",
        ));
    }
    store::update_client(&mut tx, id, &clean.values(input), &now_text(ctx)).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "client_updated",
        format!("client:{id}"),
        json!({ "name": clean.name }),
    )
    .await?;
    let row = store::client(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(row)
}

pub async fn get_client(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
) -> Result<(ClientRow, Vec<ContactRow>), InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    // A client user may read its own client through its statement; the record itself is staff's.
    let own = own_client(&mut conn, actor).await?;
    if !allowed(actor.role, own, Action::ReadClients, Some(id))
        && !allowed(actor.role, own, Action::ReadStatement, Some(id))
    {
        return Err(InvoicingError::Forbidden);
    }
    let row = store::client(&mut conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let contacts = store::contacts(&mut conn, id).await?;
    Ok((row, contacts))
}

pub async fn list_clients(
    ctx: &Ctx,
    actor: &CurrentUser,
    include_archived: bool,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ClientRow>, i64), InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadClients, None).await?;
    Ok(store::clients(&mut conn, include_archived, search, limit, offset).await?)
}

/// The clients a chooser offers for `search`: at most `limit`, archived ones left out.
pub async fn pick_clients(
    ctx: &Ctx,
    actor: &CurrentUser,
    search: &str,
    limit: i64,
) -> Result<Vec<(i64, String)>, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadClients, None).await?;
    Ok(store::client_choices(&mut conn, search, limit).await?)
}

/// The names of these clients, for the rows of a page that name them.
pub async fn client_names(
    ctx: &Ctx,
    actor: &CurrentUser,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadClients, None).await?;
    Ok(store::client_names(&mut conn, ids).await?)
}

/// Archives a client (it stays on its invoices); one never invoiced is deleted instead.
/// Returns whether it was deleted.
pub async fn archive_or_delete_client(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
    meta: &RequestMeta,
) -> Result<bool, InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::WriteClients, Some(id)).await?;
    store::client(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let invoiced = store::client_has_invoices(&mut tx, id).await?;
    let has_templates: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM recurring_invoices WHERE client_id = $1")
            .bind(id)
            .fetch_one(&mut **tx)
            .await?;
    let deleted = !invoiced && has_templates == 0;
    if deleted {
        store::delete_client(&mut tx, id).await?;
    } else {
        store::set_client_archived(&mut tx, id, true, &now_text(ctx)).await?;
    }
    let action = if deleted {
        "client_deleted"
    } else {
        "client_archived"
    };
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        action,
        format!("client:{id}"),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(deleted)
}

#[derive(Debug, Clone)]
pub struct ContactInput {
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: String,
    pub is_primary: bool,
}

/// Adds a contact (`id` None) or changes one; a new primary contact replaces the old one.
pub async fn save_contact(
    ctx: &Ctx,
    actor: &CurrentUser,
    client_id: i64,
    id: Option<i64>,
    input: &ContactInput,
    meta: &RequestMeta,
) -> Result<ContactRow, InvoicingError> {
    let name = required("name", &input.name, 200)?;
    let mail = email("email", input.email.as_deref())?;
    let phone = optional("phone", input.phone.as_deref(), 40)?;
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::WriteClients, Some(client_id)).await?;
    store::client(&mut tx, client_id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let saved = store::upsert_contact(
        &mut tx,
        id,
        client_id,
        &name,
        mail.as_deref(),
        phone.as_deref(),
        input.role.trim(),
        input.is_primary,
        &now_text(ctx),
    )
    .await?
    .ok_or(InvoicingError::NotFound)?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "client_contact_saved",
        format!("client:{client_id}"),
        json!({ "contact_id": saved, "is_primary": input.is_primary }),
    )
    .await?;
    let row = store::contacts(&mut tx, client_id)
        .await?
        .into_iter()
        .find(|c| c.id == saved)
        .ok_or(InvoicingError::NotFound)?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(row)
}

pub async fn delete_contact(
    ctx: &Ctx,
    actor: &CurrentUser,
    client_id: i64,
    id: i64,
    meta: &RequestMeta,
) -> Result<(), InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::WriteClients, Some(client_id)).await?;
    if !store::delete_contact(&mut tx, client_id, id).await? {
        return Err(InvoicingError::NotFound);
    }
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "client_contact_deleted",
        format!("client:{client_id}"),
        json!({ "contact_id": id }),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(())
}

/// Links a `client` user to the one client its portal shows.
pub async fn link_client_user(
    ctx: &Ctx,
    actor: &CurrentUser,
    user_id: i64,
    client_id: i64,
    meta: &RequestMeta,
) -> Result<(), InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::ManageUsers, None).await?;
    store::client(&mut tx, client_id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&mut **tx)
        .await?;
    match role.as_deref() {
        None => return Err(InvoicingError::NotFound),
        Some("client") => {}
        Some(_) => {
            return Err(InvoicingError::invalid(
                "user_id",
                "Only a user with the client role is linked to a client.",
            ))
        }
    }
    store::link_client_user(&mut tx, user_id, client_id).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "client_user_linked",
        format!("user:{user_id}"),
        json!({ "client_id": client_id }),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(())
}

/// A portal user refused: by invoicing (not an admin, no such client) or by the account's own
/// rules (a taken username, a short password).
#[derive(Debug, thiserror::Error)]
pub enum PortalUserError {
    #[error(transparent)]
    Invoicing(#[from] InvoicingError),
    #[error(transparent)]
    Auth(#[from] AuthError),
}

impl From<sqlx::Error> for PortalUserError {
    fn from(e: sqlx::Error) -> Self {
        PortalUserError::Invoicing(InvoicingError::Store(e))
    }
}

/// The users whose portal shows this client (admins only: they are accounts).
pub async fn list_client_users(
    ctx: &Ctx,
    actor: &CurrentUser,
    client_id: i64,
) -> Result<Vec<ClientUserRow>, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ManageUsers, None).await?;
    Ok(store::client_users(&mut conn, client_id).await?)
}

/// Creates a `client` user and links it to `client_id` in one transaction: a refusal at any
/// step leaves neither the account nor the link. Whatever role `details` names, the user's is
/// `client`, and a portal user asks the fund for nothing. Returns the new user's id.
pub async fn create_portal_user(
    ctx: &Ctx,
    actor: &CurrentUser,
    client_id: i64,
    details: UserDetails,
    meta: &RequestMeta,
) -> Result<i64, PortalUserError> {
    // Refused before the (slow, deliberately) password hashing.
    {
        let mut conn = ctx.db.pool.acquire().await?;
        require(&mut conn, actor, Action::ManageUsers, None).await?;
    }
    let prepared = auth_service::prepare_user(
        ctx,
        UserDetails {
            role: Role::Client,
            loan_request_amount: Amount::ZERO,
            ..details
        },
    )
    .await?;
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::ManageUsers, None).await?;
    store::client(&mut tx, client_id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let user_id =
        auth_service::insert_prepared_user(&mut tx, ctx.now(), actor, meta, &prepared).await?;
    store::link_client_user(&mut tx, user_id, client_id).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "client_user_linked",
        format!("user:{user_id}"),
        json!({ "client_id": client_id }),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(user_id)
}

/// Takes a portal user off its client: the link goes, and the account is deactivated with
/// every session ended, because it existed only for this portal. A client user without a
/// client would see nothing anyway; deactivated, it cannot sign in either, and its row stays
/// for the audit trail (an admin may reactivate it from the members' page).
pub async fn unlink_client_user(
    ctx: &Ctx,
    actor: &CurrentUser,
    client_id: i64,
    user_id: i64,
    meta: &RequestMeta,
) -> Result<(), InvoicingError> {
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::ManageUsers, None).await?;
    if !store::unlink_client_user(&mut tx, user_id, client_id).await? {
        return Err(InvoicingError::NotFound);
    }
    auth_store::set_active(&mut tx, user_id, false).await?;
    auth_store::revoke_user_sessions(&mut tx, user_id, now).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "client_user_unlinked",
        format!("user:{user_id}"),
        json!({ "client_id": client_id, "deactivated": true }),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    // Every instance forgets the cached account, so the deactivation holds at once.
    ctx.invalidate(&format!("user:{user_id}")).await;
    Ok(())
}

// ---------- products ----------

#[derive(Debug, Clone)]
pub struct ProductInput {
    pub name: String,
    pub description: String,
    pub unit: Unit,
    /// Minor units of `currency`.
    pub unit_price: i64,
    pub currency: Currency,
    pub tax: TaxCategory,
}

fn check_product(input: &ProductInput) -> Result<String, InvoicingError> {
    let name = required("name", &input.name, 200)?;
    if input.unit_price < 0 {
        return Err(InvoicingError::invalid(
            "unit_price",
            "Ensure this value is greater than or equal to 0.",
        ));
    }
    let rate = input.tax.rate.0;
    if !(0..=10_000).contains(&rate) || (!input.tax.code.takes_a_rate() && rate != 0) {
        return Err(InvoicingError::invalid(
            "tax_rate",
            "Only the standard category (S) takes a rate above 0%, at most 100%.",
        ));
    }
    Ok(name)
}

pub async fn create_product(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &ProductInput,
    meta: &RequestMeta,
) -> Result<ProductRow, InvoicingError> {
    let name = check_product(input)?;
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::ManageProducts, None).await?;
    let values = ProductValues {
        name: &name,
        description: input.description.trim(),
        unit: input.unit,
        unit_price: input.unit_price,
        currency: input.currency.code(),
        tax: input.tax,
    };
    let id = store::insert_product(&mut tx, &values, &now_text(ctx)).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "product_created",
        format!("product:{id}"),
        json!({ "name": name }),
    )
    .await?;
    let row = store::product(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(row)
}

pub async fn update_product(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
    input: &ProductInput,
    meta: &RequestMeta,
) -> Result<ProductRow, InvoicingError> {
    let name = check_product(input)?;
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::ManageProducts, None).await?;
    let values = ProductValues {
        name: &name,
        description: input.description.trim(),
        unit: input.unit,
        unit_price: input.unit_price,
        currency: input.currency.code(),
        tax: input.tax,
    };
    if !store::update_product(&mut tx, id, &values, &now_text(ctx)).await? {
        return Err(InvoicingError::NotFound);
    }
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "product_updated",
        format!("product:{id}"),
        json!({ "name": name }),
    )
    .await?;
    let row = store::product(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(row)
}

/// Products are archived, never deleted: invoice lines keep pointing at them.
pub async fn archive_product(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
    archived: bool,
    meta: &RequestMeta,
) -> Result<(), InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::ManageProducts, None).await?;
    if !store::set_product_archived(&mut tx, id, archived, &now_text(ctx)).await? {
        return Err(InvoicingError::NotFound);
    }
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "product_archived",
        format!("product:{id}"),
        json!({ "archived": archived }),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(())
}

pub async fn get_product(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
) -> Result<ProductRow, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadProducts, None).await?;
    store::product(&mut conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)
}

/// Products by name; `search` keeps those whose name contains it (any case).
pub async fn list_products(
    ctx: &Ctx,
    actor: &CurrentUser,
    include_archived: bool,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProductRow>, i64), InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadProducts, None).await?;
    Ok(store::products(&mut conn, include_archived, search, limit, offset).await?)
}

/// The products a chooser offers for `search` (in `currency` when given): at most `limit`,
/// archived ones left out.
pub async fn pick_products(
    ctx: &Ctx,
    actor: &CurrentUser,
    search: &str,
    currency: Option<Currency>,
    limit: i64,
) -> Result<Vec<ProductRow>, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadProducts, None).await?;
    Ok(store::product_choices(&mut conn, search, currency.map(Currency::code), limit).await?)
}
