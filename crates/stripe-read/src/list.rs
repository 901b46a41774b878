//! List endpoints: one page, and every page in turn.

use crate::client::StripeClient;
use crate::error::ApiError;
use crate::params::Params;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// One page of a Stripe list (`{"object":"list","data":[…],"has_more":…}`).
#[derive(Debug, Clone, Deserialize)]
pub struct Page<T> {
    /// The objects, in Stripe's order (newest first).
    pub data: Vec<T>,
    /// More objects follow this page.
    #[serde(default)]
    pub has_more: bool,
    /// The id of the last object, for `starting_after`.
    #[serde(skip)]
    pub last_id: Option<String>,
}

impl Page<serde_json::Value> {
    pub(crate) fn typed<T: DeserializeOwned>(self) -> Result<Page<T>, ApiError> {
        let last_id = self
            .data
            .last()
            .and_then(|o| o["id"].as_str())
            .map(str::to_owned);
        let data = self
            .data
            .into_iter()
            .map(|object| {
                let id = object["id"].as_str().unwrap_or("?").to_owned();
                serde_json::from_value(object)
                    .map_err(|e| ApiError::Decode(format!("list item {id}: {e}")))
            })
            .collect::<Result<Vec<T>, _>>()?;
        Ok(Page {
            data,
            has_more: self.has_more,
            last_id,
        })
    }
}

/// Every page of a list endpoint, from [`StripeClient::list`].
///
/// `next_page` returns `Ok(None)` once the list is exhausted. [`cursor`](Self::cursor) is the
/// `starting_after` of the next page, so a caller can save it and
/// [`resume`](StripeClient::list) after a restart with `params.param("starting_after", cursor)`.
#[derive(Debug)]
pub struct Pages<T> {
    client: StripeClient,
    path: String,
    params: Params,
    cursor: Option<String>,
    done: bool,
    pages: usize,
    _type: std::marker::PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Pages<T> {
    pub(crate) fn new(client: StripeClient, path: String, params: Params) -> Self {
        let cursor = params.get("starting_after").map(str::to_owned);
        Self {
            client,
            path,
            params,
            cursor,
            done: false,
            pages: 0,
            _type: std::marker::PhantomData,
        }
    }

    /// The next page's objects, `None` at the end.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let params = match &self.cursor {
            Some(cursor) => self.params.with("starting_after", cursor),
            None => self.params.clone(),
        };
        let page: Page<T> = self.client.list_page(&self.path, &params).await?;
        self.pages += 1;
        match (&page.last_id, page.has_more) {
            (Some(last), true) => self.cursor = Some(last.clone()),
            _ => self.done = true,
        }
        Ok(Some(page.data))
    }

    /// Every remaining object, in Stripe's order.
    pub async fn collect_all(mut self) -> Result<Vec<T>, ApiError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }

    /// The `starting_after` of the next page (`None` before the first page or at the end).
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|_| !self.done)
    }

    /// Pages fetched so far.
    pub fn pages_fetched(&self) -> usize {
        self.pages
    }
}
