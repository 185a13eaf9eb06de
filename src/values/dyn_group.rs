//! Settings groups as the top layer lists them: one [`DynGroup`] per registered group (`group::<G>()`), so the
//! command line, the config file and the settings iterate the list instead of naming each group. A group's flags
//! are added to the command at run time ([`DynGroup::augment`]), its section is read from the config file's text by
//! its key ([`DynGroup::section`]), and what it resolves to is kept by type ([`Groups`]).

use std::any::{Any, TypeId};
use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;

use clap::FromArgMatches;
use serde::de::{DeserializeOwned, IgnoredAny, MapAccess, Visitor};

use super::settings_group::{Resolver, SectionKeys, SettingsError, SettingsGroup};

/// A value kept without its type (a group's flags' texts, section or settings): cloned and printed as itself.
pub trait AnyValue: Any + Debug + Send + Sync {
    /// A copy, boxed.
    fn clone_box(&self) -> Box<dyn AnyValue>;
    /// The value, to downcast.
    fn as_any(&self) -> &dyn Any;
    /// The value, to downcast and change.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Debug + Clone + Send + Sync> AnyValue for T {
    fn clone_box(&self) -> Box<dyn AnyValue> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

impl Clone for Box<dyn AnyValue> {
    fn clone(&self) -> Self {
        (**self).clone_box()
    }
}

/// A settings group without its type: what the top layer's list holds.
pub trait DynGroup: Sync {
    /// The group's section key in the config file ([`SettingsGroup::SECTION`]).
    fn section_key(&self) -> &'static str;
    /// `cmd` with the group's flags added (its help heading, after the flags already there).
    fn augment(&self, cmd: clap::Command) -> clap::Command;
    /// The group's flags' texts from parsed `matches`.
    ///
    /// # Errors
    /// clap's, for a value it cannot take.
    fn args(&self, matches: &clap::ArgMatches) -> Result<Box<dyn AnyValue>, clap::Error>;
    /// The group's section of the config file whose text is `text`, when the file has it.
    ///
    /// # Errors
    /// serde_yaml_ng's, with the key's line and column: a key the section does not know, a value of the wrong type.
    fn section(&self, text: &str) -> Result<Option<Box<dyn AnyValue>>, serde_yaml_ng::Error>;
    /// [`SettingsGroup::merge`] of `section` (from [`DynGroup::section`]) over `args` (from [`DynGroup::args`]).
    ///
    /// # Errors
    /// As [`SettingsGroup::merge`].
    fn merge(
        &self,
        args: &mut dyn AnyValue,
        section: &dyn AnyValue,
        keys: &mut SectionKeys<'_>,
    ) -> Result<(), String>;
    /// [`SettingsGroup::resolve`] of `args`, with what it needs from `earlier`; `None`: its sources are off.
    ///
    /// # Errors
    /// As [`SettingsGroup::resolve`].
    fn resolve(
        &self,
        args: &dyn AnyValue,
        earlier: &Earlier<'_>,
        r: &Resolver<'_>,
    ) -> Result<Option<Box<dyn AnyValue>>, SettingsError>;
}

impl Debug for dyn DynGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.section_key())
    }
}

/// Group `G` as a [`DynGroup`] ([`group`]).
pub struct Group<G>(PhantomData<fn() -> G>);

/// Settings group `G` as the top layer lists it.
pub const fn group<G: 'static>() -> &'static dyn DynGroup
where
    Group<G>: DynGroup,
{
    &Group::<G>(PhantomData)
}

/// What a group takes from the groups resolved before it (its [`SettingsGroup::Needs`]), found in [`Earlier`].
pub trait FromEarlier<'a>: Sized {
    /// `None`: what it needs is not there (a group listed before the one it needs).
    fn from_earlier(earlier: &Earlier<'a>) -> Option<Self>;
}

impl FromEarlier<'_> for () {
    fn from_earlier(_: &Earlier<'_>) -> Option<()> {
        Some(())
    }
}

/// The flags' texts of the groups resolved so far (and of the core's, as the LAPI group's), by type.
#[derive(Default)]
pub struct Earlier<'a> {
    args: Vec<(TypeId, &'a dyn Any)>,
}

impl<'a> Earlier<'a> {
    /// `args` is resolved: the groups after it may read it.
    pub fn add(&mut self, args: &'a dyn Any) {
        self.args.push(((*args).type_id(), args));
    }

    /// The texts of type `A` (a group's `Args`), when its group was resolved before.
    pub fn args<A: Any>(&self) -> Option<&'a A> {
        self.args
            .iter()
            .find(|(id, _)| *id == TypeId::of::<A>())
            .and_then(|(_, a)| a.downcast_ref())
    }
}

impl<G> DynGroup for Group<G>
where
    G: SettingsGroup + 'static,
    G::Args: clap::FromArgMatches + Debug + Clone + Send + Sync + 'static,
    G::Section: DeserializeOwned + Debug + Clone + Send + Sync + 'static,
    G::Settings: Debug + Clone + Send + Sync + 'static,
    for<'a> G::Needs<'a>: FromEarlier<'a>,
{
    fn section_key(&self) -> &'static str {
        G::SECTION
    }

    fn augment(&self, cmd: clap::Command) -> clap::Command {
        <G::Args as clap::Args>::augment_args(cmd)
    }

    fn args(&self, matches: &clap::ArgMatches) -> Result<Box<dyn AnyValue>, clap::Error> {
        Ok(Box::new(G::Args::from_arg_matches(matches)?))
    }

    fn section(&self, text: &str) -> Result<Option<Box<dyn AnyValue>>, serde_yaml_ng::Error> {
        let section: Option<G::Section> = section_of(text, G::SECTION)?;
        Ok(section.map(|s| Box::new(s) as Box<dyn AnyValue>))
    }

    fn merge(
        &self,
        args: &mut dyn AnyValue,
        section: &dyn AnyValue,
        keys: &mut SectionKeys<'_>,
    ) -> Result<(), String> {
        match (
            args.as_any_mut().downcast_mut::<G::Args>(),
            section.as_any().downcast_ref::<G::Section>(),
        ) {
            (Some(args), Some(section)) => G::merge(args, section, keys),
            _ => Err(format!("{}: not this group's values", G::SECTION)),
        }
    }

    fn resolve(
        &self,
        args: &dyn AnyValue,
        earlier: &Earlier<'_>,
        r: &Resolver<'_>,
    ) -> Result<Option<Box<dyn AnyValue>>, SettingsError> {
        let not_there =
            || SettingsError::combined(format!("{}: settings out of order", G::SECTION));
        let args = args
            .as_any()
            .downcast_ref::<G::Args>()
            .ok_or_else(not_there)?;
        let needs = G::Needs::from_earlier(earlier).ok_or_else(not_there)?;
        let settings = G::resolve(args, needs, r)?;
        Ok(settings.map(|s| Box::new(s) as Box<dyn AnyValue>))
    }
}

/// The value of top-level key `key` of the YAML document `text` (`None`: no such key, or null), read from the text
/// so an error has its line and column; every other key is skipped (the file's own parse checks them).
fn section_of<S: DeserializeOwned>(
    text: &str,
    key: &str,
) -> Result<Option<S>, serde_yaml_ng::Error> {
    struct Top<'k, S>(&'k str, PhantomData<S>);
    impl<'de, S: DeserializeOwned> Visitor<'de> for Top<'_, S> {
        type Value = Option<S>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("struct ConfigFile")
        }
        fn visit_unit<E>(self) -> Result<Option<S>, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Option<S>, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<S>, A::Error> {
            let mut found = None;
            while let Some(k) = map.next_key::<String>()? {
                if k == self.0 && found.is_none() {
                    found = Some(map.next_value::<Option<S>>()?);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(found.flatten())
        }
    }
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde::Deserializer::deserialize_any(
        serde_yaml_ng::Deserializer::from_str(text),
        Top(key, PhantomData),
    )
}

/// The settings of the registered groups, by type: what each resolved to when its sources are on.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    values: Vec<Arc<dyn AnyValue>>,
}

impl Groups {
    /// The settings of type `T`, when its group's sources are on.
    pub fn get<T: Any>(&self) -> Option<&T> {
        self.values
            .iter()
            .find_map(|v| (**v).as_any().downcast_ref())
    }

    /// Sets (`Some`) or clears (`None`) the settings of type `T`.
    pub fn set<T: Any + Debug + Clone + Send + Sync>(&mut self, value: Option<T>) {
        self.values.retain(|v| !(**v).as_any().is::<T>());
        if let Some(value) = value {
            self.values.push(Arc::new(value));
        }
    }

    /// Adds what a group resolved to ([`DynGroup::resolve`]).
    pub fn push(&mut self, value: Box<dyn AnyValue>) {
        self.values.push(Arc::from(value));
    }
}

/// The config file's sections of the registered groups, each with its group.
#[derive(Debug, Clone, Default)]
pub struct Sections {
    sections: Vec<(&'static str, Box<dyn AnyValue>)>,
}

impl Sections {
    /// Adds group `g`'s section (from [`DynGroup::section`]).
    pub fn insert(&mut self, g: &dyn DynGroup, section: Box<dyn AnyValue>) {
        self.sections.push((g.section_key(), section));
    }

    /// The section of group `g`, when the file has it.
    pub fn of(&self, g: &dyn DynGroup) -> Option<&dyn AnyValue> {
        let key = g.section_key();
        self.sections
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, s)| &**s)
    }

    /// The section of type `S`, when the file has it (tests and checks that read one group's section).
    pub fn get<S: Any>(&self) -> Option<&S> {
        self.sections
            .iter()
            .find_map(|(_, s)| (**s).as_any().downcast_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_kept_by_type_and_earlier_args_found_by_type() {
        let mut groups = Groups::default();
        assert_eq!(groups.get::<u32>(), None);
        groups.set(Some(7_u32));
        groups.push(Box::new("text".to_owned()));
        assert_eq!(
            (
                groups.get::<u32>(),
                groups.get::<String>().map(String::as_str)
            ),
            (Some(&7), Some("text"))
        );
        groups.set(Some(8_u32));
        assert_eq!(groups.clone().get::<u32>(), Some(&8));
        groups.set(None::<u32>);
        assert_eq!(groups.get::<u32>(), None);

        let (a, b) = (1_u8, "b".to_owned());
        let mut earlier = Earlier::default();
        earlier.add(&a);
        earlier.add(&b);
        assert_eq!(earlier.args::<String>().map(String::as_str), Some("b"));
        assert_eq!(earlier.args::<u8>(), Some(&1));
        assert_eq!(earlier.args::<u16>(), None);
    }

    #[test]
    fn a_section_is_read_by_its_key_with_its_line() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct S {
            url: String,
        }
        let text = "web: {}\ns:\n  url: x\nt: [1]\n";
        let s: Option<S> = section_of(text, "s").unwrap();
        assert_eq!(s.unwrap().url, "x");
        assert!(section_of::<S>(text, "absent").unwrap().is_none());
        assert!(section_of::<S>("# nothing\n", "s").unwrap().is_none());
        let e = section_of::<S>("s:\n  ur: x\n", "s")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s: unknown field `ur`") && e.contains("line 2"),
            "{e}"
        );
    }
}
