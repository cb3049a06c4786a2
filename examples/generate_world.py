"""Generate ``world_facts.txt``: a small, self-consistent world of simple facts for BabyBERT.

The output is a BabyBERT corpus: plain UTF-8 text, one sentence per line, a blank line
between documents.  Every document is about one thing (a country, a city, an animal, a
fruit, a colour, a job, a continent, a language, the days of the week, the months, counting,
sums, a day at the market, a trip between two cities) and its sentences follow each other
in a natural order: the first sentence introduces the subject and the later ones refer back
to it.  That gives next-sentence prediction something to learn.

All facts come from the fixed tables below, so they never contradict each other anywhere in
the file.  Geography uses real countries, capitals, continents and main languages; animals,
fruits and colours use simple, typical values (a "typical" colour for an animal is a
simplification, but it is the same everywhere in the file).  Because each fact is repeated in
several phrasings across many documents, a tiny masked language model can learn to fill
blanks such as::

    the capital of france is [MASK].      -> paris
    the cow says [MASK].                  -> moo
    a spider has [MASK] legs.             -> eight
    the day after monday is [MASK].       -> tuesday

The text is generated with ``random.Random(seed)`` only (no sets, no hashing, no clock), so
the same arguments always give a byte-identical file::

    python3 examples/generate_world.py                      # examples/world_facts.txt, seed 0
    python3 examples/generate_world.py --seed 1 --documents 500 --out /tmp/small.txt

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

# ----------------------------------------------------------------------------- number words

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
         "nineteen"]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def num(n: int) -> str:
    """Number word for 0..100: 7 -> 'seven', 42 -> 'forty-two', 100 -> 'one hundred'."""
    if n < 0 or n > 100:
        raise ValueError(n)
    if n == 100:
        return "one hundred"
    if n < 20:
        return _ONES[n]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + ("" if ones == 0 else "-" + _ONES[ones])


def article(word: str) -> str:
    """'a' or 'an' for the next word."""
    return "an" if word[0] in "aeiou" else "a"


def join_and(items: list[str]) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'."""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def cap(sentence: str) -> str:
    """Sentences stay lowercase (the tokenizer lowercases anyway); just tidy spaces."""
    return " ".join(sentence.split())


# ----------------------------------------------------------------------------- fixed world tables

# name, capital, continent, main languages, largest city (None: not stated, e.g. disputed)
COUNTRIES = [
    ("france", "paris", "europe", ["french"], "paris"),
    ("germany", "berlin", "europe", ["german"], "berlin"),
    ("italy", "rome", "europe", ["italian"], "rome"),
    ("spain", "madrid", "europe", ["spanish"], "madrid"),
    ("portugal", "lisbon", "europe", ["portuguese"], "lisbon"),
    ("greece", "athens", "europe", ["greek"], "athens"),
    ("poland", "warsaw", "europe", ["polish"], "warsaw"),
    ("sweden", "stockholm", "europe", ["swedish"], "stockholm"),
    ("norway", "oslo", "europe", ["norwegian"], "oslo"),
    ("finland", "helsinki", "europe", ["finnish", "swedish"], "helsinki"),
    ("ireland", "dublin", "europe", ["english", "irish"], "dublin"),
    ("england", "london", "europe", ["english"], "london"),
    ("egypt", "cairo", "africa", ["arabic"], "cairo"),
    ("kenya", "nairobi", "africa", ["swahili", "english"], "nairobi"),
    ("nigeria", "abuja", "africa", ["english"], "lagos"),
    ("morocco", "rabat", "africa", ["arabic"], "casablanca"),
    ("ethiopia", "addis ababa", "africa", ["amharic"], "addis ababa"),
    ("ghana", "accra", "africa", ["english"], "accra"),
    ("china", "beijing", "asia", ["chinese"], "shanghai"),
    ("japan", "tokyo", "asia", ["japanese"], "tokyo"),
    ("india", "new delhi", "asia", ["hindi", "english"], None),
    ("thailand", "bangkok", "asia", ["thai"], "bangkok"),
    ("vietnam", "hanoi", "asia", ["vietnamese"], "ho chi minh city"),
    ("indonesia", "jakarta", "asia", ["indonesian"], "jakarta"),
    ("south korea", "seoul", "asia", ["korean"], "seoul"),
    ("canada", "ottawa", "north america", ["english", "french"], "toronto"),
    ("mexico", "mexico city", "north america", ["spanish"], "mexico city"),
    ("cuba", "havana", "north america", ["spanish"], "havana"),
    ("brazil", "brasilia", "south america", ["portuguese"], "sao paulo"),
    ("argentina", "buenos aires", "south america", ["spanish"], "buenos aires"),
    ("peru", "lima", "south america", ["spanish"], "lima"),
    ("chile", "santiago", "south america", ["spanish"], "santiago"),
    ("colombia", "bogota", "south america", ["spanish"], "bogota"),
    ("australia", "canberra", "oceania", ["english"], None),
    ("new zealand", "wellington", "oceania", ["english", "maori"], "auckland"),
]
COUNTRY = {c[0]: c for c in COUNTRIES}

# land borders between countries of the table (real ones only)
BORDERS = [
    ("france", "germany"), ("france", "spain"), ("france", "italy"), ("spain", "portugal"),
    ("germany", "poland"), ("sweden", "norway"), ("sweden", "finland"), ("norway", "finland"),
    ("kenya", "ethiopia"), ("china", "india"), ("china", "vietnam"), ("brazil", "argentina"),
    ("brazil", "peru"), ("brazil", "colombia"), ("argentina", "chile"), ("peru", "chile"),
    ("peru", "colombia"),
]


def neighbours(country: str) -> list[str]:
    out = [b for a, b in BORDERS if a == country] + [a for a, b in BORDERS if b == country]
    return sorted(out)


CONTINENTS = ["africa", "antarctica", "asia", "europe", "north america", "oceania", "south america"]

# cities: (city, country); capitals plus the largest cities that are not capitals
CITIES = [(c[1], c[0]) for c in COUNTRIES]
CITIES += [(c[4], c[0]) for c in COUNTRIES if c[4] is not None and c[4] != c[1]]

LANGUAGES = []
for _c in COUNTRIES:
    for _lang in _c[3]:
        if _lang not in LANGUAGES:
            LANGUAGES.append(_lang)


def countries_speaking(lang: str) -> list[str]:
    return [c[0] for c in COUNTRIES if lang in c[3]]


# animal: name, plural, kind, colour, covering, sound (None: no sound fact), home, food,
#         legs, baby name (None: not stated)
ANIMALS = [
    ("cow", "cows", "farm animal", "brown", "fur", "moo", "on the farm", "grass", 4, "calf"),
    ("pig", "pigs", "farm animal", "pink", "skin", "oink", "on the farm", "corn", 4, "piglet"),
    ("sheep", "sheep", "farm animal", "white", "wool", "baa", "on the farm", "grass", 4, "lamb"),
    ("horse", "horses", "farm animal", "brown", "hair", "neigh", "in the stable", "hay", 4, "foal"),
    ("donkey", "donkeys", "farm animal", "grey", "fur", "hee-haw", "on the farm", "hay", 4, "foal"),
    ("hen", "hens", "bird", "brown", "feathers", "cluck", "in the henhouse", "seeds", 2, "chick"),
    ("duck", "ducks", "bird", "white", "feathers", "quack", "on the pond", "water plants", 2, "duckling"),
    ("goose", "geese", "bird", "white", "feathers", "honk", "by the lake", "grass", 2, "gosling"),
    ("turkey", "turkeys", "bird", "brown", "feathers", "gobble", "on the farm", "seeds", 2, "chick"),
    ("dog", "dogs", "pet", "brown", "fur", "woof", "in the house", "meat", 4, "puppy"),
    ("cat", "cats", "pet", "black", "fur", "meow", "in the house", "fish", 4, "kitten"),
    ("mouse", "mice", "small animal", "grey", "fur", "squeak", "in a hole", "grain", 4, None),
    ("rabbit", "rabbits", "small animal", "white", "fur", None, "in a burrow", "clover", 4, "kit"),
    ("frog", "frogs", "small animal", "green", "skin", "croak", "by the pond", "flies", 4, "tadpole"),
    ("snake", "snakes", "reptile", "green", "scales", "hiss", "in the long grass", "mice", 0, None),
    ("crocodile", "crocodiles", "reptile", "green", "scales", "hiss", "in the river", "fish", 4, None),
    ("lion", "lions", "wild animal", "yellow", "fur", "roar", "on the savanna", "meat", 4, "cub"),
    ("tiger", "tigers", "wild animal", "orange", "fur", "growl", "in the jungle", "meat", 4, "cub"),
    ("elephant", "elephants", "wild animal", "grey", "skin", None, "on the savanna", "leaves", 4, "calf"),
    ("giraffe", "giraffes", "wild animal", "yellow", "fur", None, "on the savanna", "leaves", 4, "calf"),
    ("zebra", "zebras", "wild animal", "black and white", "fur", None, "on the savanna", "grass", 4, "foal"),
    ("monkey", "monkeys", "wild animal", "brown", "fur", "ooh ooh", "in the jungle", "bananas", 2, None),
    ("bear", "bears", "wild animal", "brown", "fur", "growl", "in the forest", "berries", 4, "cub"),
    ("wolf", "wolves", "wild animal", "grey", "fur", "howl", "in the forest", "meat", 4, "pup"),
    ("fox", "foxes", "wild animal", "red", "fur", "yip", "in the forest", "mice", 4, "cub"),
    ("camel", "camels", "wild animal", "brown", "fur", "grunt", "in the desert", "dry plants", 4, "calf"),
    ("polar bear", "polar bears", "wild animal", "white", "fur", "growl", "on the arctic ice", "seals", 4, "cub"),
    ("owl", "owls", "bird", "brown", "feathers", "hoot", "in the forest", "mice", 2, "owlet"),
    ("crow", "crows", "bird", "black", "feathers", "caw", "in the trees", "worms", 2, None),
    ("parrot", "parrots", "bird", "green", "feathers", "squawk", "in the jungle", "seeds", 2, "chick"),
    ("penguin", "penguins", "bird", "black and white", "feathers", "squawk", "on the ice", "fish", 2, "chick"),
    ("bee", "bees", "insect", "yellow and black", None, "buzz", "in a hive", "nectar", 6, None),
    ("ant", "ants", "insect", "black", None, None, "in an anthill", "seeds", 6, None),
    ("butterfly", "butterflies", "insect", "orange", "wings", None, "in the garden", "nectar", 6, "caterpillar"),
    ("ladybird", "ladybirds", "insect", "red", None, None, "in the garden", "aphids", 6, None),
    ("spider", "spiders", "small animal", "black", None, None, "in a web", "flies", 8, None),
    ("dolphin", "dolphins", "sea animal", "grey", "skin", "click", "in the sea", "fish", 0, "calf"),
    ("shark", "sharks", "fish", "grey", "skin", None, "in the sea", "fish", 0, "pup"),
    ("crab", "crabs", "sea animal", "red", "shell", None, "on the beach", "small fish", 8, None),
    ("snail", "snails", "small animal", "brown", "shell", None, "in the garden", "leaves", 0, None),
]

# animals whose "legs" fact needs an extra clause to stay correct
LEG_NOTES = {
    "monkey": "two legs and two arms",
    "crab": "eight legs and two claws",
    "snail": "no legs, only one soft foot",
    "dolphin": "no legs, only fins and a tail",
    "shark": "no legs, only fins and a tail",
}

# fruit: name, plural, colour, grows on, taste, extra sentence
FRUITS = [
    ("apple", "apples", "red", "a tree", "sweet", "an apple a day is a healthy snack."),
    ("banana", "bananas", "yellow", "a plant", "sweet", "you peel a banana before you eat it."),
    ("orange", "oranges", "orange", "a tree", "sweet", "you can squeeze oranges to make orange juice."),
    ("lemon", "lemons", "yellow", "a tree", "sour", "lemon juice is very sour."),
    ("lime", "limes", "green", "a tree", "sour", "a lime is smaller than a lemon."),
    ("grape", "grapes", "purple", "a vine", "sweet", "grapes grow in bunches."),
    ("strawberry", "strawberries", "red", "a low plant", "sweet", "a strawberry has tiny seeds on the outside."),
    ("blueberry", "blueberries", "blue", "a bush", "sweet", "blueberries are small and round."),
    ("cherry", "cherries", "red", "a tree", "sweet", "a cherry has a hard stone inside."),
    ("pear", "pears", "green", "a tree", "sweet", "a pear is narrow at the top and wide at the bottom."),
    ("plum", "plums", "purple", "a tree", "sweet", "a plum has a stone in the middle."),
    ("watermelon", "watermelons", "green", "a vine", "sweet", "a watermelon is red inside and has black seeds."),
    ("coconut", "coconuts", "brown", "a palm tree", "sweet", "a coconut is white inside and has water in it."),
    ("kiwi", "kiwis", "brown", "a vine", "sweet", "a kiwi is green inside."),
    ("raspberry", "raspberries", "red", "a bush", "sweet", "a raspberry is soft and easy to squash."),
    ("pineapple", "pineapples", "yellow", "a plant", "sweet", "a pineapple has spiky leaves on top."),
]

# vegetables for the market: name, plural, colour
VEGETABLES = [
    ("carrot", "carrots", "orange"), ("tomato", "tomatoes", "red"), ("potato", "potatoes", "brown"),
    ("cabbage", "cabbages", "green"), ("pumpkin", "pumpkins", "orange"), ("onion", "onions", "white"),
    ("cucumber", "cucumbers", "green"), ("pepper", "peppers", "red"), ("beetroot", "beetroots", "purple"),
]

# colours: name, things of that colour (plural subject, for "X are red." / singular forms)
COLOUR_THINGS = {
    "red": ["the fire engine", "a ripe tomato", "a strawberry", "a ladybird", "a stop sign"],
    "orange": ["an orange", "a carrot", "a pumpkin", "a tiger", "a goldfish"],
    "yellow": ["the sun", "a banana", "a lemon", "a lion", "a school bus"],
    "green": ["grass", "a frog", "a lime", "a leaf", "a parrot"],
    "blue": ["the sky", "the sea", "a blueberry", "a sapphire", "a clear lake"],
    "purple": ["a grape", "a plum", "a violet flower", "a beetroot", "lavender"],
    "pink": ["a pig", "a flamingo", "a rose", "candy floss", "a cherry blossom"],
    "brown": ["a cow", "chocolate", "a bear", "a tree trunk", "mud"],
    "black": ["coal", "a crow", "the night sky", "a spider", "a panther"],
    "white": ["snow", "milk", "a sheep", "a cloud", "a polar bear"],
    "grey": ["an elephant", "a wolf", "a rain cloud", "a mouse", "a rock"],
    "gold": ["a crown", "a trophy", "a gold medal", "treasure", "a king's ring"],
    "silver": ["a silver medal", "a spoon", "a key", "tin foil", "a knife"],
    "indigo": [],
    "violet": [],
}
COLOURS = list(COLOUR_THINGS)
RAINBOW = ["red", "orange", "yellow", "green", "blue", "indigo", "violet"]
MIXES = [("red", "yellow", "orange"), ("blue", "yellow", "green"), ("red", "blue", "purple"),
         ("red", "white", "pink"), ("black", "white", "grey")]

# profession: name, plural, what they do (3rd person), workplace, tools, extra sentences
PROFESSIONS = [
    ("baker", "bakers", "bakes bread and cakes", "in a bakery", ["an oven", "flour"],
     ["a baker gets up very early in the morning.", "the bakery smells of fresh bread."]),
    ("doctor", "doctors", "helps sick people get better", "in a hospital", ["a stethoscope", "a thermometer"],
     ["a doctor listens to your heart.", "when you are ill, you go to see a doctor."]),
    ("nurse", "nurses", "looks after patients", "in a hospital", ["a thermometer", "bandages"],
     ["a nurse works with doctors.", "a nurse checks that patients are comfortable."]),
    ("teacher", "teachers", "teaches children", "in a school", ["books", "a whiteboard"],
     ["a teacher helps children read and write.", "the children sit in the classroom and listen to the teacher."]),
    ("farmer", "farmers", "grows food and looks after animals", "on a farm", ["a tractor", "a plough"],
     ["a farmer gets up at sunrise.", "a farmer feeds the cows and the hens."]),
    ("cook", "cooks", "cooks food", "in a kitchen", ["a knife", "a pan"],
     ["a cook makes soup and pasta.", "the cook tastes the food to see if it is good."]),
    ("pilot", "pilots", "flies planes", "at an airport", ["a plane", "a map"],
     ["a pilot takes people from one country to another.", "a pilot sits in the cockpit."]),
    ("firefighter", "firefighters", "puts out fires", "at a fire station", ["a hose", "a ladder"],
     ["a firefighter drives a red fire engine.", "a firefighter wears a helmet."]),
    ("police officer", "police officers", "keeps people safe", "at a police station", ["a radio", "a notebook"],
     ["a police officer helps people who are lost.", "a police officer wears a uniform."]),
    ("carpenter", "carpenters", "makes things from wood", "in a workshop", ["a hammer", "a saw"],
     ["a carpenter can make a table or a chair.", "a carpenter uses nails to join pieces of wood."]),
    ("painter", "painters", "paints walls and pictures", "in a studio", ["a brush", "paint"],
     ["a painter mixes colours.", "a painter can paint a house or a picture."]),
    ("dentist", "dentists", "looks after teeth", "in a clinic", ["a small mirror", "a drill"],
     ["a dentist checks your teeth for holes.", "a dentist tells you to brush your teeth twice a day."]),
    ("postman", "postmen", "delivers letters", "at the post office", ["a bag", "a van"],
     ["a postman brings letters and parcels to every house.", "a postman walks a long way every day."]),
    ("fisherman", "fishermen", "catches fish", "on a boat", ["a net", "a fishing rod"],
     ["a fisherman goes out to sea early in the morning.", "a fisherman sells fish at the market."]),
    ("tailor", "tailors", "makes clothes", "in a shop", ["a needle", "thread"],
     ["a tailor measures people before making clothes.", "a tailor can mend a torn shirt."]),
    ("librarian", "librarians", "looks after books", "in a library", ["books", "a computer"],
     ["a librarian helps people find a good book.", "a librarian keeps the library quiet and tidy."]),
    ("gardener", "gardeners", "grows plants and flowers", "in a garden", ["a spade", "a watering can"],
     ["a gardener waters the flowers.", "a gardener pulls up the weeds."]),
    ("mechanic", "mechanics", "fixes cars", "in a garage", ["a spanner", "a jack"],
     ["a mechanic knows how engines work.", "when a car breaks down, a mechanic repairs it."]),
    ("vet", "vets", "helps sick animals", "in an animal clinic", ["a stethoscope", "bandages"],
     ["a vet looks after cats, dogs and farm animals.", "a vet can give medicine to a sick dog."]),
    ("bus driver", "bus drivers", "drives a bus", "on the road", ["a bus", "a ticket machine"],
     ["a bus driver stops at every bus stop.", "a bus driver takes people to work and to school."]),
    ("builder", "builders", "builds houses", "on a building site", ["bricks", "a shovel"],
     ["a builder wears a hard hat.", "a builder puts bricks on top of each other."]),
    ("barber", "barbers", "cuts hair", "in a barber shop", ["scissors", "a comb"],
     ["a barber can also trim a beard.", "people sit in a big chair while the barber cuts their hair."]),
    ("plumber", "plumbers", "fixes pipes", "in people's homes", ["a wrench", "pipes"],
     ["a plumber fixes a dripping tap.", "when a pipe leaks, you call a plumber."]),
    ("astronaut", "astronauts", "travels into space", "on a space station", ["a space suit", "a rocket"],
     ["an astronaut trains for many years.", "an astronaut can float inside the space station."]),
    ("singer", "singers", "sings songs", "on a stage", ["a microphone", "a song book"],
     ["a singer practises every day.", "people clap when the singer finishes a song."]),
]

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
MONTHS = [("january", 31), ("february", 28), ("march", 31), ("april", 30), ("may", 31), ("june", 30),
          ("july", 31), ("august", 31), ("september", 30), ("october", 31), ("november", 30),
          ("december", 31)]
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
            "tenth", "eleventh", "twelfth"]

# people for stories: name, subject pronoun, possessive
PEOPLE = [
    ("anna", "she", "her"), ("tom", "he", "his"), ("maria", "she", "her"), ("sam", "he", "his"),
    ("lily", "she", "her"), ("ben", "he", "his"), ("sara", "she", "her"), ("leo", "he", "his"),
    ("mia", "she", "her"), ("omar", "he", "his"), ("nina", "she", "her"), ("jack", "he", "his"),
    ("emma", "she", "her"), ("ali", "he", "his"), ("rosa", "she", "her"), ("max", "he", "his"),
    ("yuki", "she", "her"), ("kofi", "he", "his"), ("ella", "she", "her"), ("ivan", "he", "his"),
    ("zara", "she", "her"), ("noah", "he", "his"), ("amy", "she", "her"), ("raj", "he", "his"),
]


# ----------------------------------------------------------------------------- document builders

# facts only some animals have: (animal, chance, (singular, plural))
ANIMAL_EXTRAS = [
    ("spider", 0.6, ("{S} spins a web to catch flies.", "{P} spin webs to catch flies.")),
    ("bee", 0.6, ("{S} makes honey.", "{P} make honey.")),
    ("butterfly", 0.6, ("a butterfly starts life as a caterpillar.",) * 2),
    ("frog", 0.6, ("{S} can jump very far.", "{P} can jump very far.")),
    ("elephant", 0.6, ("{S} has a long trunk.", "{P} have long trunks.")),
    ("elephant", 0.5, ("{S} makes a loud trumpet sound.", "{P} make a loud trumpet sound.")),
    ("giraffe", 0.6, ("{S} has a very long neck.", "{P} have very long necks.")),
    ("camel", 0.6, ("{S} can walk for days without water.", "{P} can walk for days without water.")),
    ("owl", 0.6, ("{S} hunts at night.", "{P} hunt at night.")),
    ("penguin", 0.6, ("{S} cannot fly, but it swims very well.", "{P} cannot fly, but they swim very well.")),
    ("hen", 0.6, ("{S} lays eggs.", "{P} lay eggs.")),
    ("cow", 0.6, ("{S} gives us milk.", "{P} give us milk.")),
    ("sheep", 0.6, ("we make wool from the coat of a sheep.",) * 2),
]


class World:
    """Builds documents. Entities are drawn from shuffled decks so that every entity appears
    about equally often."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self._decks: dict[str, list] = {}

    def draw(self, name: str, items: list):
        deck = self._decks.get(name)
        if not deck:
            deck = list(items)
            self.rng.shuffle(deck)
            self._decks[name] = deck
        return deck.pop()

    def pick(self, options: list[str]) -> str:
        return self.rng.choice(options)

    def maybe(self, p: float) -> bool:
        return self.rng.random() < p

    # ------------------------------------------------------------------ geography

    def country_doc(self) -> list[str]:
        name, capital, cont, langs, largest = self.draw("country", COUNTRIES)
        r = self
        lang = join_and(langs)
        out = []
        cont_in_intro = r.maybe(0.75)
        if cont_in_intro:
            out.append(r.pick([f"{name} is a country in {cont}.", f"{name} is a country in {cont}.",
                               f"{name} is a country on the continent of {cont}.",
                               f"{name} is one of the countries of {cont}."]))
        else:
            out.append(r.pick([f"{name} is a country.", f"let us learn about {name}.",
                               f"this is about the country of {name}."]))
        capital_block = [r.pick([f"the capital of {name} is {capital}.", f"the capital of {name} is {capital}.",
                                 f"{capital} is the capital of {name}.", f"the capital city of {name} is {capital}.",
                                 f"its capital is {capital}."])]
        if largest == capital and r.maybe(0.7):
            capital_block.append(r.pick([f"{capital} is the largest city in {name}.",
                                         f"{capital} is also the biggest city in {name}.",
                                         f"it is the largest city in {name}."]))
        elif largest is not None and largest != capital and r.maybe(0.8):
            capital_block.append(r.pick([f"the largest city in {name} is {largest}, not {capital}.",
                                         f"but the largest city in {name} is {largest}.",
                                         f"{largest} is bigger than {capital}, but {capital} is the capital."]))
        if r.maybe(0.3):
            capital_block.append(r.pick([f"many people live in {capital}.",
                                         f"the government of {name} meets in {capital}.",
                                         f"visitors come to {capital} from all over the world."]))
        blocks = [capital_block]
        lang_s = r.pick([f"people in {name} speak {lang}.", f"people in {name} speak {lang}.",
                         f"in {name}, people speak {lang}.", f"most people in {name} speak {lang}.",
                         f"the people of {name} speak {lang}."])
        if len(langs) == 1 and r.maybe(0.3):
            lang_s = f"the main language of {name} is {lang}."
        blocks.append([lang_s])
        if not cont_in_intro:
            blocks.append([r.pick([f"{name} is in {cont}.", f"it is a country in {cont}.",
                                   f"{name} is part of {cont}."])])
        nb = neighbours(name)
        if nb and r.maybe(0.6):
            n = r.pick(nb)
            blocks.append([r.pick([f"{name} shares a border with {n}.", f"{n} is a neighbour of {name}.",
                                   f"{name} and {n} are neighbours."])])
            if r.maybe(0.5):
                blocks[-1].append(f"the capital of {n} is {COUNTRY[n][1]}.")
        if r.maybe(0.3):
            others = [c for c in COUNTRIES if c[2] == cont and c[0] != name]
            if others:
                o = r.pick(others)[0]
                blocks.append([r.pick([f"{o} is also a country in {cont}.", f"{o} is in {cont} too."])])
        # the capital block stays early: it is the core fact
        rest = blocks[1:]
        r.rng.shuffle(rest)
        for b in [blocks[0]] + rest:
            out.extend(b)
        if r.maybe(0.3):
            out.append(r.pick([f"{name} is a nice place to visit.", f"many tourists visit {name} every year.",
                               f"the people of {name} are proud of their country."]))
        return out

    def city_doc(self) -> list[str]:
        city, country = self.draw("city", CITIES)
        _, capital, cont, langs, largest = COUNTRY[country]
        r = self
        lang = join_and(langs)
        out = [r.pick([f"{city} is a city in {country}.", f"{city} is a big city in {country}.",
                       f"{city} is a city.", f"{city} is a city in {country}."])]
        if out[0] == f"{city} is a city.":
            out.append(r.pick([f"it is in {country}.", f"{city} is in {country}."]))
        facts = []
        if city == capital:
            facts.append([r.pick([f"{city} is the capital of {country}.", f"it is the capital of {country}.",
                                  f"the capital of {country} is {city}."])])
            if largest == city:
                facts[-1].append(r.pick([f"it is also the largest city in {country}.",
                                         f"{city} is the largest city in {country}."]))
            elif largest is not None:
                facts[-1].append(r.pick([f"but the largest city in {country} is {largest}.",
                                         f"{largest} is bigger than {city}."]))
        else:
            facts.append([r.pick([f"{city} is the largest city in {country}.", f"it is the largest city in {country}."]),
                          r.pick([f"but {city} is not the capital.", f"but it is not the capital of {country}."]),
                          r.pick([f"the capital of {country} is {capital}.", f"{capital} is the capital of {country}."])])
        facts.append([r.pick([f"{country} is in {cont}, so {city} is in {cont} too.", f"{city} is in {cont}.",
                              f"{country} is a country in {cont}."])])
        facts.append([r.pick([f"people in {city} speak {lang}.", f"in {city}, people speak {lang}.",
                              f"most people in {city} speak {lang}."])])
        r.rng.shuffle(facts)
        for f in facts:
            out.extend(f)
        if r.maybe(0.4):
            out.append(r.pick([f"{city} has many streets, shops and parks.", f"lots of people live and work in {city}.",
                               f"you can visit {city} by plane or by train.", f"{city} is busy every day."]))
        return out

    def continent_doc(self) -> list[str]:
        cont = self.draw("continent", CONTINENTS)
        r = self
        if cont == "antarctica":
            out = [r.pick(["antarctica is a continent.", "antarctica is one of the seven continents."]),
                   r.pick(["it is the coldest continent on earth.", "antarctica is the coldest continent."]),
                   r.pick(["it is covered in thick ice.", "most of antarctica is covered in ice."]),
                   r.pick(["antarctica has no countries.", "very few people live in antarctica."]),
                   r.pick(["penguins live on the ice near antarctica.", "penguins swim in the cold sea around antarctica."])]
            if r.maybe(0.5):
                out.append("scientists go there to study the ice and the weather.")
            return out
        cs = [c for c in COUNTRIES if c[2] == cont]
        out = [r.pick([f"{cont} is a continent.", f"{cont} is one of the seven continents.",
                       f"{cont} is a continent."])]
        if r.maybe(0.5):
            out.append("there are seven continents in the world.")
        sample = r.rng.sample(cs, min(len(cs), r.rng.randint(2, 4)))
        out.append(r.pick([f"{join_and([c[0] for c in sample])} are countries in {cont}.",
                           f"some of the countries in {cont} are {join_and([c[0] for c in sample])}."]))
        for c in sample[: r.rng.randint(1, 3)]:
            out.append(r.pick([f"the capital of {c[0]} is {c[1]}.", f"{c[1]} is the capital of {c[0]}.",
                               f"{c[0]} is in {cont}, and its capital is {c[1]}."]))
        if cont == "oceania" and r.maybe(0.6):
            out.append("oceania is made of australia and many islands in the pacific ocean.")
        if cont == "asia" and r.maybe(0.6):
            out.append("asia is the largest continent.")
        if cont == "africa" and r.maybe(0.5):
            out.append("the nile is a long river in africa.")
        if cont == "south america" and r.maybe(0.5):
            out.append("the amazon rainforest is in south america.")
        if cont == "europe" and r.maybe(0.5):
            out.append("europe is a small continent with many countries.")
        if cont == "north america" and r.maybe(0.5):
            out.append("canada is the largest country in north america.")
        return out

    def language_doc(self) -> list[str]:
        lang = self.draw("language", LANGUAGES)
        r = self
        cs = countries_speaking(lang)
        out = [r.pick([f"{lang} is a language.", f"{lang} is a language that many people speak.",
                       f"let us talk about the {lang} language."])]
        shown = cs if len(cs) <= 4 else r.rng.sample(cs, 4)
        if len(cs) == 1:
            out.append(r.pick([f"people speak {lang} in {cs[0]}.", f"{lang} is spoken in {cs[0]}.",
                               f"{lang} is the language of {cs[0]}."]))
        else:
            out.append(r.pick([f"people speak {lang} in {join_and(shown)}.", f"{lang} is spoken in {join_and(shown)}."]))
        for c in shown[:2]:
            co = COUNTRY[c]
            if len(co[3]) > 1:
                out.append(f"in {c}, people speak {join_and(co[3])}.")
            out.append(r.pick([f"the capital of {c} is {co[1]}.", f"in {co[1]}, you can hear people speak {lang}.",
                               f"{c} is a country in {co[2]}."]))
        if len(out) < 4:
            out.append(r.pick([f"to learn {lang}, you can read books and listen to songs.",
                               f"children in {cs[0]} learn {lang} at school.",
                               f"you can say hello in {lang} when you visit {cs[0]}."]))
        return out

    def trip_doc(self) -> list[str]:
        r = self
        name, he, his = r.pick(PEOPLE)
        a, b = r.rng.sample(CITIES, 2)
        ca, cb = COUNTRY[a[1]], COUNTRY[b[1]]
        out = [r.pick([f"{name} lives in {a[0]}.", f"{name} is from {a[0]}.", f"{name} has a home in {a[0]}."]),
               r.pick([f"{a[0]} is a city in {a[1]}.", f"{a[0]} is in {a[1]}."])]
        out.append(r.pick([f"one day, {name} took a trip to {b[0]}.", f"last summer, {name} went to visit {b[0]}.",
                           f"one morning, {he} packed {his} bag for a trip to {b[0]}."]))
        if a[1] == b[1]:
            out.append(f"{b[0]} is also in {a[1]}.")
            out.append(r.pick([f"{he} went there by train.", f"{he} went there by bus.", f"{he} went there by car."]))
        else:
            out.append(r.pick([f"{b[0]} is in {b[1]}.", f"{b[0]} is a city in {b[1]}."]))
            if ca[2] == cb[2]:
                out.append(r.pick([f"both cities are in {ca[2]}.", f"{he} went there by train.",
                                   f"{he} went there by plane.", f"{he} went there by bus."]))
            else:
                out.append(r.pick([f"{a[1]} is in {ca[2]} and {b[1]} is in {cb[2]}.", f"{he} flew there by plane.",
                                   f"the trip from {ca[2]} to {cb[2]} was long, so {he} went by plane."]))
        if ca[3] != cb[3]:
            lb = join_and(cb[3])
            out.append(r.pick([f"in {b[0]}, people speak {lb}.", f"people in {b[1]} speak {lb}."]))
            if not [x for x in cb[3] if x in ca[3]] and r.maybe(0.6):
                out.append(r.pick([f"{name} learned to say hello in {cb[3][0]}.",
                                   f"{name} did not speak {cb[3][0]}, so {he} used a small book of words."]))
        else:
            out.append(f"people speak {join_and(cb[3])} there, just like at home.")
        if b[0] == cb[1]:
            out.append(r.pick([f"{b[0]} is the capital of {b[1]}.", f"{name} saw the famous places of the capital."]))
        else:
            out.append(f"{b[0]} is a big city, but the capital of {b[1]} is {cb[1]}.")
        days = r.rng.randint(2, 9)
        out.append(r.pick([f"after {num(days)} days, {name} went back home to {a[0]}.",
                           f"after {num(days)} days, {he} returned to {a[0]}.",
                           f"{he} stayed for {num(days)} days and then went home to {a[0]}."]))
        return out

    # ------------------------------------------------------------------ animals

    def animal_doc(self) -> list[str]:
        (name, plural, kind, colour, cover, sound, home, food, legs, baby) = self.draw("animal", ANIMALS)
        r = self
        art = article(name)
        out = []
        if r.maybe(0.2):
            out.append(r.pick([f"let us learn about the {name}.", f"this is about the {name}.",
                               f"here are some facts about {plural}."]))
        kind_s = f"the {name} is {article(kind)} {kind}." if r.maybe(0.6) else f"{art} {name} is {article(kind)} {kind}."
        if name == "spider" and r.maybe(0.5):
            kind_s = "a spider is not an insect."
        if name in ("dolphin", "whale") and r.maybe(0.5):
            kind_s = f"the {name} is a sea animal, but it is not a fish."
        out.append(kind_s)

        # each fact: (singular template, plural template), {S}/{P} replaced by subject forms
        facts = []
        if legs == 0 and name not in LEG_NOTES:
            facts.append(("{S} has no legs.", "{P} have no legs."))
        elif name in LEG_NOTES:
            n = LEG_NOTES[name]
            facts.append((f"{{S}} has {n}.", f"{{P}} have {n}."))
        else:
            n = num(legs)
            extra = " and two wings" if kind == "bird" else ""
            facts.append((f"{{S}} has {n} legs{extra}.", f"{{P}} have {n} legs{extra}."))
            if r.maybe(0.3):
                facts[-1] = (f"{{S}} walks on {n} legs.", f"{{P}} walk on {n} legs.")
        if sound is not None:
            t = r.pick([("{S} says %s.", "{P} say %s."), ("{S} says %s.", "{P} say %s."),
                        ("{S} goes %s.", "{P} go %s."),
                        ("the sound {S0} makes is %s.", "the sound {P} make is %s."),
                        ("listen, {S} says %s!", "listen, {P} say %s!")])
            facts.append((t[0] % sound, t[1] % sound))
        cover_s = None
        if cover in ("fur", "feathers", "wool", "scales", "hair") and r.maybe(0.5):
            cover_s = (f"{{S}} has {colour} {cover}.", f"{{P}} have {colour} {cover}.")
        elif cover == "shell" and r.maybe(0.5):
            cover_s = (f"{{S}} has a hard {colour} shell.", f"{{P}} have hard {colour} shells.")
        facts.append(cover_s or (f"{{S}} is {colour}.", f"{{P}} are {colour}."))
        facts.append(r.pick([(f"{{S}} lives {home}.", f"{{P}} live {home}."),
                             (f"{{S}} lives {home}.", f"{{P}} live {home}."),
                             (f"you can find {{S0}} {home}.", f"you can find {{P}} {home}.")]))
        facts.append(r.pick([(f"{{S}} eats {food}.", f"{{P}} eat {food}."),
                             (f"{{S}} eats {food}.", f"{{P}} eat {food}."),
                             (f"{{S}} likes to eat {food}.", f"{{P}} like to eat {food}.")]))
        if baby is not None and r.maybe(0.5):
            facts.append((f"a baby {name} is called {article(baby)} {baby}.",) * 2)
        for animal, chance, fact in ANIMAL_EXTRAS:  # in this order: the draws decide the corpus
            if name == animal and r.maybe(chance):
                facts.append(fact)
        first = facts[0]
        rest = facts[1:]
        r.rng.shuffle(rest)
        facts = [first] + rest if r.maybe(0.5) else rest[:1] + [first] + rest[1:]
        prev_plural = None
        for sing, plur in facts:
            use_plural = r.maybe(0.35)
            if use_plural:
                p = "they" if prev_plural is True and r.maybe(0.3) else plural
                s = plur.replace("{P}", p)
            else:
                subj = r.pick([f"the {name}", f"the {name}", f"{art} {name}"])
                if prev_plural is False and r.maybe(0.25):
                    subj = "it"
                s = sing.replace("{S0}", f"{art} {name}").replace("{S}", subj)
            s = s.replace("{S0}", f"{art} {name}").replace("{P}", plural)
            prev_plural = use_plural if "{S}" in sing else None  # no pronoun after "a baby cow is ..."
            out.append(s)
        if r.maybe(0.25):
            out.append(r.pick([f"the {name} is my favourite animal.", f"children like to learn about {plural}.",
                               f"now you know a lot about the {name}."]))
        return out

    def farm_doc(self) -> list[str]:
        """A visit to a place where several animals live, each with one or two facts."""
        r = self
        name, he, his = r.pick(PEOPLE)
        homes = {"farm": [a for a in ANIMALS if a[2] == "farm animal" or a[0] in ("hen", "turkey")],
                 "zoo": [a for a in ANIMALS if a[2] == "wild animal" or a[0] in ("parrot", "penguin", "crocodile")]}
        place = r.pick(["farm", "zoo"])
        out = [r.pick([f"today {name} went to the {place}.", f"on {r.pick(DAYS)}, {name} visited the {place}.",
                       f"{name} and {his} class went on a trip to the {place}."])]
        out.append(r.pick([f"there were many animals at the {place}.", f"{he} saw lots of animals."]))
        for a in r.rng.sample(homes[place], r.rng.randint(3, 5)):
            an, pl, kind, colour, cover, sound, home, food, legs, baby = a
            opts = [f"{he} saw {article(an)} {an}, and it was {colour}.", f"the {an} was eating {food}."]
            if sound:
                opts += [f"the {an} said {sound}.", f"{he} heard the {an} say {sound}."]
            if legs:
                opts.append(f"{he} counted the legs of the {an}, and there were {num(legs)}.")
            out.append(r.pick(opts))
        out.append(r.pick([f"at the end of the day, {name} was tired but happy.",
                           f"{name} wants to go back to the {place} soon.",
                           f"when {he} got home, {he} drew a picture of the animals."]))
        return out

    # ------------------------------------------------------------------ fruit, colours, market

    def fruit_doc(self) -> list[str]:
        name, plural, colour, grows, taste, extra = self.draw("fruit", FRUITS)
        r = self
        art = article(name)
        out = [r.pick([f"{art} {name} is a fruit.", f"the {name} is a fruit.", f"{plural} are fruit."])]
        facts = [r.pick([f"{art} ripe {name} is {colour}.", f"{plural} are {colour}.", f"the {name} is {colour}.",
                         f"most {plural} are {colour}."]),
                 r.pick([f"{art} {name} grows on {grows}.", f"{plural} grow on {grows}."]),
                 r.pick([f"{plural} taste {taste}.", f"{art} {name} tastes {taste}."]),
                 extra]
        r.rng.shuffle(facts)
        out += facts
        if r.maybe(0.4):
            out.append(r.pick([f"you can buy {plural} at the market.", f"fruit like the {name} is good for you.",
                               f"many children like to eat {plural}."]))
        return out

    def colour_doc(self) -> list[str]:
        col = self.draw("colour", COLOURS)
        r = self
        out = [r.pick([f"{col} is a colour.", f"{col} is a colour.", f"let us think about the colour {col}."])]
        things = COLOUR_THINGS[col]
        if col in RAINBOW:
            i = RAINBOW.index(col)
            rain = [f"{col} is one of the colours of the rainbow."]
            if i > 0:
                rain.append(f"in the rainbow, {col} comes after {RAINBOW[i - 1]}.")
            if i < 6:
                rain.append(f"in the rainbow, {RAINBOW[i + 1]} comes after {col}.")
            out += r.rng.sample(rain, min(len(rain), 2 if things else 3))
        if things:
            for t in r.rng.sample(things, r.rng.randint(2, 4)):
                if t.startswith(("a ", "an ")):
                    out.append(r.pick([f"{t} is {col}.", f"{t} is {col}.", f"{t} is often {col}."]))
                else:
                    out.append(f"{t} is {col}.")
        else:
            out.append("indigo is a deep blue colour." if col == "indigo" else "violet is a purple colour.")
            out.append("the rainbow has seven colours.")
        for a, b, c in MIXES:
            if c == col:
                out.append(r.pick([f"if you mix {a} and {b}, you get {col}.", f"{a} and {b} make {col}."]))
            elif col in (a, b) and r.maybe(0.4):
                other = b if col == a else a
                out.append(f"{col} and {other} make {c}.")
        return out

    def rainbow_doc(self) -> list[str]:
        r = self
        out = [r.pick(["after the rain, we saw a rainbow.", "a rainbow appears when the sun shines through rain.",
                       "let us learn the colours of the rainbow."]),
               "the rainbow has seven colours.",
               "the colours of the rainbow are red, orange, yellow, green, blue, indigo and violet."]
        for i in sorted(r.rng.sample(range(6), 3)):
            out.append(r.pick([f"after {RAINBOW[i]} comes {RAINBOW[i + 1]}.",
                               f"{RAINBOW[i + 1]} comes after {RAINBOW[i]}."]))
        out.append(r.pick(["red is at the top of the rainbow.", "violet is at the bottom of the rainbow."]))
        return out

    def market_doc(self) -> list[str]:
        r = self
        name, he, his = r.pick(PEOPLE)
        day = r.pick(DAYS)
        out = [r.pick([f"on {day} morning, {name} went to the market.", f"on {day}, {name} walked to the market.",
                       f"last {day}, {name} went to the market."])]
        out.append(r.pick([f"{he} wanted to buy some fruit and vegetables.", f"{he} took a big basket.",
                           f"the market was full of colours."]))
        items = [(f[0], f[1], f[2]) for f in FRUITS] + VEGETABLES
        total = 0
        for n_, pl, col in r.rng.sample(items, r.rng.randint(3, 5)):
            k = r.rng.randint(1, 6)
            total += k
            noun = n_ if k == 1 else pl
            out.append(r.pick([f"{he} bought {num(k)} {col} {noun}.", f"{he} bought {num(k)} {col} {noun}.",
                               f"the {pl} were {col}, so {he} bought {num(k)}.",
                               f"{he} chose {num(k)} {noun}, and {'it was' if k == 1 else 'they were'} {col}."]))
        if total <= 100 and r.maybe(0.5):
            out.append(f"in all, {he} bought {num(total)} things.")
        coins = r.rng.randint(2, 12)
        out.append(r.pick([f"{he} paid the seller {num(coins)} coins.", f"{name} paid and said thank you.",
                           f"the seller smiled and gave {name} a free apple."]))
        out.append(r.pick([f"then {he} walked home with a full basket.", f"at home, {he} put the fruit in a bowl.",
                           f"{name} was happy with {his} shopping."]))
        return out

    # ------------------------------------------------------------------ jobs

    def profession_doc(self) -> list[str]:
        name, plural, does, where, tools, extras = self.draw("profession", PROFESSIONS)
        r = self
        art = article(name)
        out = [r.pick([f"{art} {name} is a person who {does}.", f"{art} {name} {does}.", f"the {name} {does}.",
                       f"{art} {name} is a worker who {does}."])]
        facts = [r.pick([f"{art} {name} works {where}.", f"the {name} works {where}.", f"{plural} work {where}."]),
                 r.pick([f"{art} {name} uses {join_and(tools)}.", f"{art} {name} needs {tools[0]} to work.",
                         f"the tools of {art} {name} are {join_and(tools)}."])]
        facts += r.rng.sample(extras, r.rng.randint(1, 2))
        r.rng.shuffle(facts)
        out += facts
        if r.maybe(0.4):
            pname, he, his = r.pick(PEOPLE)
            out.append(r.pick([f"{pname} wants to be {art} {name} one day.",
                               f"{pname}'s {r.pick(['mother', 'father', 'aunt', 'uncle'])} is {art} {name}."]))
        return out

    # ------------------------------------------------------------------ review lists

    def review_doc(self) -> list[str]:
        """A short lesson that repeats one kind of fact for several entities, in the plainest
        phrasing (the cow says moo. / the dog says woof. ...), so core facts are seen often."""
        r = self
        topic = r.pick(["sounds", "legs", "homes", "food", "capitals", "capitals", "languages", "continents",
                        "fruit colours"])
        k = r.rng.randint(4, 7)
        if topic in ("sounds", "legs", "homes", "food"):
            pool = [a for a in ANIMALS if topic != "sounds" or a[5] is not None]
            picked = []
            while len(picked) < k:
                a = self.draw("review_" + topic, pool)
                if a not in picked:
                    picked.append(a)
            intro = {"sounds": ["let us learn what animals say.", "here are the sounds that animals make.",
                                "every animal makes its own sound."],
                     "legs": ["let us count the legs of some animals.", "animals have different numbers of legs.",
                              "how many legs does each animal have?"],
                     "homes": ["animals live in many different places.", "let us learn where animals live.",
                               "every animal has a home."],
                     "food": ["animals eat many different things.", "let us learn what animals eat.",
                              "every animal needs food."]}[topic]
            out = [r.pick(intro)]
            for name, plural, kind, colour, cover, sound, home, food, legs, baby in picked:
                subj = r.pick([f"the {name}", f"the {name}", f"{article(name)} {name}"])
                if topic == "sounds":
                    out.append(f"{subj} says {sound}.")
                elif topic == "legs":
                    out.append(f"{subj} has {LEG_NOTES.get(name, 'no legs' if legs == 0 else num(legs) + ' legs')}.")
                elif topic == "homes":
                    out.append(f"{subj} lives {home}.")
                else:
                    out.append(f"{subj} eats {food}.")
            return out
        if topic == "fruit colours":
            picked = []
            while len(picked) < k:
                f = self.draw("review_fruit", FRUITS)
                if f not in picked:
                    picked.append(f)
            out = [r.pick(["fruits come in many colours.", "let us learn the colours of fruits."])]
            for name, plural, colour, *_ in picked:
                out.append(r.pick([f"{plural} are {colour}.", f"{article(name)} {name} is {colour}."]))
            return out
        picked = []
        while len(picked) < k:
            c = self.draw("review_country", COUNTRIES)
            if c not in picked:
                picked.append(c)
        if topic == "capitals":
            out = [r.pick(["every country has a capital city.", "let us learn some capital cities.",
                           "here are some countries and their capitals."])]
            for name, capital, *_ in picked:
                out.append(r.pick([f"the capital of {name} is {capital}.", f"the capital of {name} is {capital}.",
                                   f"{capital} is the capital of {name}."]))
        elif topic == "languages":
            out = [r.pick(["people speak many languages around the world.", "let us learn what people speak."])]
            for name, capital, cont, langs, _ in picked:
                out.append(f"people in {name} speak {join_and(langs)}.")
        else:
            out = [r.pick(["every country is on a continent.", "let us learn where some countries are."])]
            for name, capital, cont, *_ in picked:
                out.append(r.pick([f"{name} is a country in {cont}.", f"{name} is in {cont}."]))
        return out

    # ------------------------------------------------------------------ time and numbers

    def days_doc(self) -> list[str]:
        r = self
        out = [r.pick(["there are seven days in a week.", "a week has seven days.", "let us learn the days of the week."])]
        if r.maybe(0.6):
            out.append(r.pick([f"the days of the week are {join_and(DAYS)}.", f"the days are {', '.join(DAYS)}."]))
        for i in sorted(r.rng.sample(range(7), 3)):
            j = (i + 1) % 7
            out.append(r.pick([f"the day after {DAYS[i]} is {DAYS[j]}.", f"after {DAYS[i]} comes {DAYS[j]}.",
                               f"the day before {DAYS[j]} is {DAYS[i]}.", f"{DAYS[j]} comes after {DAYS[i]}."]))
        t = r.rng.randrange(7)
        out.append(f"if today is {DAYS[t]}, then tomorrow is {DAYS[(t + 1) % 7]}.")
        if r.maybe(0.5):
            out.append(f"and yesterday was {DAYS[(t - 1) % 7]}.")
        out.append(r.pick(["saturday and sunday are the weekend.", "the weekend is saturday and sunday.",
                           "children go to school from monday to friday."]))
        return out

    def months_doc(self) -> list[str]:
        r = self
        out = [r.pick(["there are twelve months in a year.", "a year has twelve months.",
                       "let us learn the months of the year."])]
        if r.maybe(0.4):
            out.append("the months are " + join_and([m for m, _ in MONTHS]) + ".")
        for i in sorted(r.rng.sample(range(12), 3)):
            m, d = MONTHS[i]
            opts = [f"{m} is the {ORDINALS[i]} month of the year.", f"{m} has {num(d)} days."]
            if i < 11:
                opts += [f"the month after {m} is {MONTHS[i + 1][0]}.", f"after {m} comes {MONTHS[i + 1][0]}."]
            if i > 0:
                opts.append(f"the month before {m} is {MONTHS[i - 1][0]}.")
            if m == "february":
                opts = ["february is the shortest month.", "february has twenty-eight days, or twenty-nine in a leap year."]
            out.append(r.pick(opts))
        out.append(r.pick(["january is the first month and december is the last month.",
                           "after december, a new year begins with january.",
                           "a year usually has three hundred and sixty-five days."]))
        return out

    def counting_doc(self) -> list[str]:
        r = self
        mode = r.pick(["up", "up", "down", "twos", "tens"])
        if mode == "up":
            a = r.rng.randint(1, 14)
            b = a + r.rng.randint(4, 6)
            seq = list(range(a, b + 1))
            out = [r.pick([f"let us count from {num(a)} to {num(b)}.", f"we can count from {num(a)} to {num(b)}."]),
                   ", ".join(num(x) for x in seq) + "."]
            for x in r.rng.sample(seq[1:], 2):
                out.append(r.pick([f"{num(x)} comes after {num(x - 1)}.", f"the number before {num(x)} is {num(x - 1)}.",
                                   f"{num(x - 1)} plus one is {num(x)}.", f"the number after {num(x - 1)} is {num(x)}."]))
        elif mode == "down":
            b = r.rng.randint(5, 20)
            a = b - r.rng.randint(4, 5)
            seq = list(range(b, a - 1, -1))
            out = [r.pick([f"let us count down from {num(b)}.", f"now we count backwards from {num(b)} to {num(a)}."]),
                   ", ".join(num(x) for x in seq) + "."]
            for x in r.rng.sample(seq[:-1], 2):
                out.append(r.pick([f"{num(x)} minus one is {num(x - 1)}.", f"the number before {num(x)} is {num(x - 1)}."]))
            if a <= 1:
                out.append("the count is over, and the rocket takes off.")
        elif mode == "twos":
            a = r.pick([2, 4, 6])
            seq = list(range(a, a + 12, 2))
            out = ["let us count in twos.", ", ".join(num(x) for x in seq) + "."]
            x = r.pick(seq[1:])
            out.append(f"{num(x - 2)} plus two is {num(x)}.")
            out.append("these are even numbers.")
        else:
            a = r.pick([10, 20])
            seq = list(range(a, 101, 10))
            out = ["let us count in tens.", ", ".join(num(x) for x in seq) + "."]
            x = r.pick(seq[1:])
            out.append(f"{num(x - 10)} plus ten is {num(x)}.")
            out.append("ten tens make one hundred.")
        return out

    def sums_doc(self) -> list[str]:
        r = self
        out = [r.pick(["let us do some sums.", "here are some easy sums.", "numbers can be added and taken away."])]
        for _ in range(r.rng.randint(3, 5)):
            op = r.pick(["plus", "plus", "minus", "times"])
            if op == "plus":
                a, b = r.rng.randint(0, 10), r.rng.randint(0, 10)
                out.append(r.pick([f"{num(a)} plus {num(b)} is {num(a + b)}.",
                                   f"{num(a)} and {num(b)} make {num(a + b)}."]))
            elif op == "minus":
                a = r.rng.randint(1, 20)
                b = r.rng.randint(0, a)
                out.append(f"{num(a)} minus {num(b)} is {num(a - b)}.")
            else:
                a, b = r.rng.randint(1, 10), r.rng.randint(1, 10)
                out.append(f"{num(a)} times {num(b)} is {num(a * b)}.")
        if r.maybe(0.5):
            name, he, his = r.pick(PEOPLE)
            a, b = r.rng.randint(1, 9), r.rng.randint(1, 9)
            thing = r.pick([("apple", "apples"), ("pencil", "pencils"), ("sweet", "sweets"), ("ball", "balls")])
            out.append(f"{name} had {num(a)} {thing[0] if a == 1 else thing[1]} and got {num(b)} more.")
            out.append(f"now {he} has {num(a + b)} {thing[1]}.")
        return out


# doc kind -> weight
KINDS = [
    ("country_doc", 17), ("city_doc", 8), ("continent_doc", 2), ("language_doc", 4), ("trip_doc", 6),
    ("animal_doc", 26), ("farm_doc", 4), ("fruit_doc", 7), ("colour_doc", 5), ("rainbow_doc", 1),
    ("market_doc", 5), ("profession_doc", 9), ("days_doc", 2), ("months_doc", 2), ("counting_doc", 4),
    ("sums_doc", 2), ("review_doc", 14),
]


def generate(documents: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    world = World(rng)
    names = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    docs = []
    for _ in range(documents):
        kind = rng.choices(names, weights)[0]
        doc = [cap(s) for s in getattr(world, kind)()]
        assert len(doc) >= 3, (kind, doc)
        docs.append(doc)
    return docs


def main(argv: list[str] | None = None) -> None:
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description="Generate a consistent world-facts corpus for BabyBERT "
                                            "(one sentence per line, blank line between documents).")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--documents", type=int, default=2900, help="number of documents (default 2900)")
    p.add_argument("--out", type=Path, default=here / "world_facts.txt", help="output file (default examples/world_facts.txt)")
    args = p.parse_args(argv)
    if args.documents < 1:
        p.error("--documents must be at least 1")
    docs = generate(args.documents, args.seed)
    text = "\n\n".join("\n".join(d) for d in docs) + "\n"
    data = text.encode("utf-8")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    sentences = sum(len(d) for d in docs)
    print(f"wrote {args.out}: {len(docs)} documents, {sentences} sentences, {len(data)} bytes")


if __name__ == "__main__":
    main()
