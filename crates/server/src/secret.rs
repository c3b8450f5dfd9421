//! [`Secret`]: a value that never prints. `Debug`, `Display` and `Serialize`
//! all show `[REDACTED]`, and the bytes are zeroed on drop (docs/security.md 18).
//! Reading it takes a deliberate [`Secret::expose`].

use zeroize::Zeroize;

pub struct Secret<T: Zeroize>(T);

impl<T: Zeroize> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself, for the few places that must use it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Zeroize> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl<T: Zeroize + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T: Zeroize> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<T: Zeroize> std::fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<T: Zeroize> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_its_value() {
        let secret = Secret::new(String::from("hunter2-correct-horse"));
        for shown in [
            format!("{secret:?}"),
            format!("{secret}"),
            format!("{:#?}", Some(&secret)),
            serde_json::to_string(&secret).unwrap_or_default(),
        ] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("[REDACTED]"), "{shown}");
        }
        assert_eq!(secret.expose(), "hunter2-correct-horse");
    }
}
