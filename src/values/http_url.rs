//! An HTTP(S) URL given in a setting (a LAPI's `url`, `--lapi.url`).

/// http or https, with a host; credentials in it are refused (they would be logged).
pub(crate) fn parse(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL with a host".to_owned());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold credentials".to_owned());
    }
    Ok(url)
}
