//! Exact f64 in JSON: fitted parameters are written as text in Rust's shortest round-trip
//! form ("0.1", "NaN") and read back with Rust's correctly rounded parser. serde_json's default
//! number parser can be one unit in the last place off, and writes NaN as null; a reloaded
//! transformer must give bit-identical output.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Repr {
    Text(String),
    Number(f64),
}

pub(crate) trait Exact: Sized {
    type Repr: Serialize + DeserializeOwned;
    fn to_repr(&self) -> Self::Repr;
    fn from_repr(repr: Self::Repr) -> Result<Self, String>;
}

impl Exact for f64 {
    type Repr = Repr;
    fn to_repr(&self) -> Repr {
        Repr::Text(self.to_string())
    }
    fn from_repr(repr: Repr) -> Result<f64, String> {
        match repr {
            Repr::Number(x) => Ok(x),
            Repr::Text(t) => t.parse().map_err(|_| format!("{t:?} is not a number")),
        }
    }
}

impl<T: Exact> Exact for Vec<T> {
    type Repr = Vec<T::Repr>;
    fn to_repr(&self) -> Self::Repr {
        self.iter().map(Exact::to_repr).collect()
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        repr.into_iter().map(T::from_repr).collect()
    }
}

impl<T: Exact> Exact for (T, T) {
    type Repr = (T::Repr, T::Repr);
    fn to_repr(&self) -> Self::Repr {
        (self.0.to_repr(), self.1.to_repr())
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        Ok((T::from_repr(repr.0)?, T::from_repr(repr.1)?))
    }
}

impl<T: Exact> Exact for Option<T> {
    type Repr = Option<T::Repr>;
    fn to_repr(&self) -> Self::Repr {
        self.as_ref().map(Exact::to_repr)
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        repr.map(T::from_repr).transpose()
    }
}

impl Exact for (usize, f64) {
    type Repr = (usize, Repr);
    fn to_repr(&self) -> Self::Repr {
        (self.0, self.1.to_repr())
    }
    fn from_repr(repr: Self::Repr) -> Result<Self, String> {
        Ok((repr.0, f64::from_repr(repr.1)?))
    }
}

pub(crate) fn serialize<T: Exact, S: Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    value.to_repr().serialize(serializer)
}

pub(crate) fn deserialize<'de, T: Exact, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    T::from_repr(T::Repr::deserialize(deserializer)?).map_err(serde::de::Error::custom)
}
