//! A phone credential back into a [`PhoneNumber`] for an SMS: the credential carries
//! `+<country><national>` and the national part, not the ISO country, which is read from the
//! dialling prefix for the common countries.

use stepup_client::PhoneNumber;

/// Dialling prefix → ISO 3166 country, for the countries this app can text.
const COUNTRIES: &[(&str, &str)] = &[
    ("1", "US"),
    ("7", "RU"),
    ("31", "NL"),
    ("32", "BE"),
    ("33", "FR"),
    ("34", "ES"),
    ("39", "IT"),
    ("41", "CH"),
    ("44", "GB"),
    ("45", "DK"),
    ("46", "SE"),
    ("47", "NO"),
    ("49", "DE"),
    ("52", "MX"),
    ("55", "BR"),
    ("61", "AU"),
    ("81", "JP"),
    ("82", "KR"),
    ("86", "CN"),
    ("91", "IN"),
    ("353", "IE"),
];

/// Rebuilds a phone number from `+<country><national>` and the national part; `None` when the
/// two do not fit together or the country is not one this app knows.
pub fn phone_of(public_identifier: Option<&str>, national: Option<&str>) -> Option<PhoneNumber> {
    let national = national?;
    let country_code = public_identifier?
        .strip_prefix('+')?
        .strip_suffix(national)?;
    let (_, iso) = COUNTRIES.iter().find(|(code, _)| *code == country_code)?;
    Some(PhoneNumber {
        country_code: country_code.to_owned(),
        iso_country_code: (*iso).to_owned(),
        number: national.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_rebuilt_from_the_credential() {
        let p = phone_of(Some("+447700900123"), Some("7700900123")).expect("GB");
        assert_eq!(
            (p.country_code.as_str(), p.iso_country_code.as_str()),
            ("44", "GB")
        );
        assert!(phone_of(Some("+9997700900123"), Some("7700900123")).is_none());
        assert!(phone_of(Some("447700900123"), Some("7700900123")).is_none());
        assert!(phone_of(Some("+447700900123"), Some("123")).is_none());
    }
}
