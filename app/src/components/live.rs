//! Live updates pushed by the server as server-sent events (no page reloads, no polling).

#[allow(unused_imports)]
use leptos::prelude::*;
use serde::de::DeserializeOwned;

/// Subscribes, in the browser, to the event stream at `url()` and hands each JSON message to
/// `on_message`; the stream is closed when `on_message` returns false or the component goes away.
/// Does nothing during the server render.
#[allow(unused_variables)]
pub fn use_event_stream<T, U, F>(url: U, on_message: F)
where
    T: DeserializeOwned + 'static,
    U: Fn() -> String + Send + Sync + 'static,
    F: Fn(T) -> bool + Clone + Send + Sync + 'static,
{
    #[cfg(feature = "hydrate")]
    {
        use send_wrapper::SendWrapper;
        use wasm_bindgen::{closure::Closure, JsCast};
        Effect::new(move |_| {
            let url = url();
            let Ok(es) = web_sys::EventSource::new(&url) else {
                return;
            };
            let es = SendWrapper::new(es);
            let on_message = on_message.clone();
            let closer = es.clone();
            let cb = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(
                move |ev: web_sys::MessageEvent| {
                    let Some(text) = ev.data().as_string() else {
                        return;
                    };
                    match serde_json::from_str::<T>(&text) {
                        Ok(v) => {
                            if !on_message(v) {
                                closer.close();
                            }
                        }
                        Err(e) => {
                            leptos::logging::warn!("unreadable event from {}: {e}", closer.url())
                        }
                    }
                },
            );
            es.set_onmessage(Some(cb.as_ref().unchecked_ref()));
            cb.forget();
            on_cleanup(move || es.close());
        });
    }
}
