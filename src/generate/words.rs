//! The words generated claims, agents and sources are made of.

/// Words the claims are written with; word `r` is the `r`-th most common
/// (0-based). The first ones are real words of the domain, the rest are
/// made-up but pronounceable, so that a rare word is rare for sure.
pub const VOCABULARY_SIZE: usize = 50_000;

/// The vocabulary word of this frequency rank (0 = most common).
pub fn vocabulary_word(rank: usize) -> String {
    if let Some(word) = COMMON_WORDS.split_whitespace().nth(rank) {
        return word.to_string();
    }
    const ONSETS: [&str; 16] = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "sh", "dr"];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ou"];
    let mut n = rank;
    let mut word = String::new();
    loop {
        word.push_str(ONSETS[n % ONSETS.len()]);
        n /= ONSETS.len();
        word.push_str(VOWELS[n % VOWELS.len()]);
        n /= VOWELS.len();
        if n == 0 {
            break;
        }
    }
    if COMMON_WORDS.split_whitespace().any(|common| common == word) {
        word.push('n');
    }
    word
}

pub(super) const COMMON_WORDS: &str = "the of and to in a security officials said forces army local people attack \
    government region village north fighters militants civilians town reported according military \
    groups armed jihadist fuel road week killed month attacks central humanitarian aid displaced \
    convoy blockade border gold mine junta coup elections minister president prices markets schools \
    trucks drivers water food farmers herders cattle river bridge airport capital troops base \
    mercenaries soldiers police checkpoint ambush drone strike witnesses residents sources report \
    data agency ministry statement interview analysts experts observers spokesman rights \
    abuses executions arrests detained released negotiations talks ceasefire agreement sanctions \
    embassy diplomats envoy mission peacekeepers withdrawal deployment recruitment training supply \
    shortage queues stations electricity power outages internet network radio journalists media \
    censorship protest demonstration walkout union students teachers hospital clinic doctors vaccine \
    cholera malaria famine drought floods harvest rainy season migration refugees camp registered \
    estimated figures toll casualties wounded missing kidnapped hostages ransom smuggling trafficking \
    weapons explosives mines roadside device patrol operation offensive counteroffensive siege \
    encircled cut supplied reinforced retreated advanced captured recaptured controlled occupied";

pub(super) const OUTLETS: &[&str] = &[
    "The Guardian",
    "France 24",
    "BBC News",
    "Reuters",
    "Agence France-Presse",
    "Associated Press",
    "Al Jazeera",
    "Le Monde",
    "Radio France Internationale",
    "Africanews",
    "Jeune Afrique",
    "Deutsche Welle",
    "Business Insider Africa",
    "The New Humanitarian",
    "Africa Center for Strategic Studies",
    "ACLED",
    "Human Rights Watch",
    "Amnesty International",
    "Atlantic Council",
    "Crisis Group",
    "Studio Tamani",
    "Mali Web",
    "Le Républicain",
    "Sahel Intelligence",
];

pub(super) const OUTLET_WORDS: &[&str] =
    &["Sahel Monitor", "Daily Courier", "Radio", "Observer", "Gazette", "Bulletin", "Blog"];

pub(super) const ORGANIZATION_KINDS: &[&str] =
    &["Ministry", "Army Command", "Aid Agency", "Research Institute", "Human Rights League", "Embassy", "Union"];

pub(super) const ANONYMOUS: &[&str] = &[
    "A former Malian minister",
    "A senior security source",
    "An aid worker",
    "A local official",
    "A diplomat in Bamako",
    "A truck driver",
    "A resident",
];

pub(super) const ROLES: &[&str] = &[
    "analyst",
    "spokesperson",
    "minister",
    "researcher",
    "local official",
    "military officer",
    "journalist",
    "aid worker",
];

pub(super) const FIRST_NAMES: &[&str] = &[
    "Aminata",
    "Moussa",
    "Fatoumata",
    "Ibrahim",
    "Mariam",
    "Oumar",
    "Awa",
    "Boubacar",
    "Kadidia",
    "Seydou",
    "Ulf",
    "Claire",
    "Jean",
    "Sophie",
    "Ahmed",
    "Hawa",
    "Assimi",
    "Abdoulaye",
    "Salif",
    "Nana",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "Traoré",
    "Keïta",
    "Coulibaly",
    "Diallo",
    "Maïga",
    "Touré",
    "Cissé",
    "Sangaré",
    "Konaté",
    "Diarra",
    "Laessing",
    "Dupont",
    "Martin",
    "Ag Ghaly",
    "Goïta",
    "Sidibé",
    "Bagayoko",
    "Dembélé",
];

pub(super) const ACTORS: &[&str] = &[
    "JNIM fighters",
    "the junta",
    "Malian troops",
    "Wagner mercenaries",
    "the UN mission",
    "Ecowas leaders",
    "local officials",
    "the transitional government",
    "Islamic State Sahel",
    "Fulani militias",
    "Dozo hunters",
    "Burkinabe forces",
    "Niger's army",
    "French diplomats",
    "Russian instructors",
    "aid agencies",
    "human rights groups",
    "truck drivers",
    "gold miners",
    "farmers' unions",
];

pub(super) const VERBS: &[&str] = &[
    "attacked",
    "blockaded",
    "seized",
    "withdrew from",
    "negotiated over",
    "accused others over",
    "denied involvement in",
    "reported on",
    "announced plans for",
    "closed",
    "reopened",
    "besieged",
    "taxed",
    "recruited near",
    "displaced residents near",
    "supplied",
    "banned",
    "suspended",
    "signed an agreement on",
    "warned about",
];

pub(super) const FUTURE_VERBS: &[&str] =
    &["attack", "blockade", "seize", "withdraw from", "reopen", "close", "besiege"];

pub(super) const OBJECTS: &[&str] = &[
    "fuel convoys",
    "the main road",
    "a military base",
    "gold mines",
    "the border crossing",
    "schools",
    "the airport",
    "aid deliveries",
    "local markets",
    "the dam",
    "radio stations",
    "mobile networks",
    "the river port",
    "cattle markets",
    "health centres",
];

pub(super) const PLACES: &[&str] = &[
    "Mali",
    "Bamako, Mali",
    "Burkina Faso",
    "Niger",
    "Mopti, Mali",
    "Gao, Mali",
    "Timbuktu, Mali",
    "Kidal, Mali",
    "Ménaka, Mali",
    "Ségou, Mali",
    "Kayes, Mali",
    "Sikasso, Mali",
    "Ouagadougou, Burkina Faso",
    "Niamey, Niger",
    "Djibo, Burkina Faso",
    "Tillabéri, Niger",
    "Nouakchott, Mauritania",
    "Dakar, Senegal",
    "Abidjan, Côte d'Ivoire",
    "Conakry, Guinea",
    "Algiers, Algeria",
    "Paris, France",
    "Moscow, Russia",
    "Sahel",
    "West Africa",
];

pub(super) const UNITS: &[&str] =
    &["deaths", "people", "USD", "tonnes", "litres", "soldiers", "displaced people", "schools", "percent", "trucks"];

pub(super) const TAGS: &[&str] = &[
    "jnim",
    "fuel-blockade",
    "bamako",
    "junta",
    "wagner",
    "ecowas",
    "death-toll",
    "displacement",
    "gold",
    "mining",
    "economy",
    "schools",
    "prices",
    "elections",
    "coup",
    "human-rights",
    "russia",
    "france",
    "un-mission",
    "humanitarian",
    "drones",
    "kidnapping",
    "smuggling",
    "media",
    "health",
];
