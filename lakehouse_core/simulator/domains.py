"""Value domains of the source systems, and the small vocabularies the simulator draws names from.

Enum tuples are in source spelling; the lake can import them to state its accepted values.
"""

from __future__ import annotations

GENDERS = ("M", "F")
CURRENCIES = ("USD", "EUR", "GBP")
TRANSACTION_TYPES = ("Purchase", "Refund")
PAYMENT_METHODS = ("Credit Card", "Debit Card", "PayPal")
PAYMENT_STATUSES = ("Completed", "Refunded", "Pending")
INTERACTION_TYPES = ("Complaint", "Feedback", "Support Request")
INTERACTION_OUTCOMES = ("Resolved", "Implemented", "Unresolved", "Pending")
FOLLOW_UP = ("Yes", "No")
CHANNELS = ("Email", "Phone", "Chat")

AMOUNT_MIN_CENTS = 10_00
AMOUNT_MAX_CENTS = 5000_00
EMAIL_MAX = 30
USERNAME_MAX = 20
NAME_MAX = 20
PHONE_DIGITS = 10

# (country, government, city, currency). Each country has a prime number of cities so that a
# customer's k-th address (k < cities) can be drawn as first + k * step (mod cities) and never
# repeats an earlier one. "government" is the state / province / governorate, as the source calls it.
LOCATIONS: tuple[tuple[str, str, str], ...] = (
    ("United States", "California", "Los Angeles"),
    ("United States", "California", "San Francisco"),
    ("United States", "Texas", "Houston"),
    ("United States", "Texas", "Austin"),
    ("United States", "New York", "New York"),
    ("United States", "Illinois", "Chicago"),
    ("United States", "Florida", "Miami"),
    ("United Kingdom", "England", "London"),
    ("United Kingdom", "England", "Manchester"),
    ("United Kingdom", "England", "Birmingham"),
    ("United Kingdom", "Scotland", "Edinburgh"),
    ("United Kingdom", "Wales", "Cardiff"),
    ("Canada", "Ontario", "Toronto"),
    ("Canada", "Ontario", "Ottawa"),
    ("Canada", "Quebec", "Montreal"),
    ("Canada", "British Columbia", "Vancouver"),
    ("Canada", "Alberta", "Calgary"),
    ("Germany", "Bavaria", "Munich"),
    ("Germany", "Berlin", "Berlin"),
    ("Germany", "Hamburg", "Hamburg"),
    ("Germany", "Hesse", "Frankfurt"),
    ("Germany", "North Rhine-Westphalia", "Cologne"),
    ("France", "Île-de-France", "Paris"),
    ("France", "Auvergne-Rhône-Alpes", "Lyon"),
    ("France", "Provence-Alpes-Côte d'Azur", "Marseille"),
    ("Egypt", "Cairo", "Cairo"),
    ("Egypt", "Giza", "Giza"),
    ("Egypt", "Giza", "6th of October City"),
    ("Egypt", "Alexandria", "Alexandria"),
    ("Egypt", "Qalyubia", "Banha"),
)
COUNTRIES = ("United States", "United Kingdom", "Canada", "Germany", "France", "Egypt")
COUNTRY_WEIGHTS = (0.35, 0.18, 0.12, 0.13, 0.10, 0.12)
COUNTRY_CURRENCY = ("USD", "GBP", "USD", "EUR", "EUR", "USD")

EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "proton.me", "mail.com", "aol.com", "gmx.com")

MALE_NAMES = (
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
    "Daniel", "Matthew", "Anthony", "Mark", "Steven", "Paul", "Andrew", "Joshua", "Kevin", "Brian",
    "George", "Timothy", "Ronald", "Jason", "Edward", "Ryan", "Jacob", "Nicholas", "Eric", "Jonathan",
    "Samuel", "Benjamin", "Alexander", "Patrick", "Oliver", "Harry", "Lukas", "Felix", "Louis", "Hugo",
    "Ahmed", "Mohamed", "Omar", "Youssef", "Karim", "Mostafa", "Liam", "Noah", "Ethan", "Lucas",
    "Maximilian", "Christopher", "Sebastian", "Leon", "Theo", "Gabriel", "Arthur", "Tarek", "Hassan", "Adam",
)
FEMALE_NAMES = (
    "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
    "Lisa", "Nancy", "Sandra", "Ashley", "Emily", "Donna", "Michelle", "Amanda", "Melissa", "Stephanie",
    "Rebecca", "Laura", "Emma", "Olivia", "Sophia", "Isabella", "Charlotte", "Amelia", "Mia", "Harper",
    "Hannah", "Lena", "Marie", "Anna", "Camille", "Chloe", "Louise", "Alice", "Fatma", "Mariam",
    "Nour", "Salma", "Yasmin", "Aya", "Heba", "Rana", "Grace", "Julia", "Zoe", "Lily",
    "Alexandra", "Victoria", "Gabrielle", "Katharina", "Josephine", "Madeleine", "Ines", "Nadia", "Leila",
    "Sofia",
)
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
    "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
    "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
    "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores",
    "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell", "Carter", "Roberts",
    "Mueller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Schulz",
    "Dubois", "Moreau", "Laurent", "Lefebvre", "Bernard", "Petit", "Durand", "Leroy", "Fontaine", "Girard",
    "Hassan", "Ibrahim", "Mahmoud", "Mostafa", "Abdelrahman", "ElSayed", "Farouk", "Khalil", "Saleh",
    "Nasser",
    "MacDonald", "Stewart", "Murray", "Evans", "Hughes", "Edwards", "Collins", "Morgan", "Bell", "Cooper",
    "Tremblay", "Gagnon", "Roy", "Cote", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Papadopoulos",
)
# Names as a Latin-1 exporter would write them (the non_utf8 defect writes these bytes raw).
ACCENTED_NAMES = (
    "José", "Renée", "Chloé", "Jérôme", "André", "Inès", "Müller", "Zoë", "François", "Hélène",
)

PASSWORD_SYMBOLS = "!#$%&*+-=?@^_~"
PASSWORD_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
PASSWORD_DIGITS = "0123456789"
PASSWORD_MIN = 8
PASSWORD_MAX = 16
