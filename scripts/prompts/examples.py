"""Hand-written realistic records for the T0 held-out and some training datasets.

Field names and types follow the Hugging Face `datasets` features of each dataset, so the
records look like what `load_dataset(...)[split][i]` returns. The texts are written for this
test (not copied from the datasets). Keyed by "<dataset>[/<subset>]" as in the templates folder.
"""

LONG = " ".join(f"Sentence number {i} of a long passage that goes on and on." for i in range(60))

REALISTIC = {
    "super_glue/rte": [
        {"premise": "Dana Reeve, the widow of the actor Christopher Reeve, has died of lung cancer at age 44.",
         "hypothesis": "Christopher Reeve had an accident.", "idx": 0, "label": 1},
        {"premise": "Yet, we now are discovering that antibiotics are losing their effectiveness against illness.",
         "hypothesis": "Bacteria is winning the war against antibiotics.", "idx": 1, "label": 0},
        {"premise": LONG, "hypothesis": "The passage is long.", "idx": 2, "label": -1},
    ],
    "super_glue/cb": [
        {"premise": "It was a complex language. Not written down but handed down. One might say it was peeled down.",
         "hypothesis": "the language was peeled down", "idx": 0, "label": 0},
        {"premise": "Valence the void-brain, Valence the virtuous valet. Why couldn't the figger choose his own portion of titanic anatomy to shaft?",
         "hypothesis": "Valence was helping", "idx": 1, "label": 1},
        {"premise": "B: Yeah, I don't know. A: I don't think it's going to rain.", "hypothesis": "it's going to rain", "idx": 2, "label": 2},
    ],
    "super_glue/copa": [
        {"premise": "My body cast a shadow over the grass.", "choice1": "The sun was rising.",
         "choice2": "The grass was cut.", "question": "cause", "idx": 0, "label": 0},
        {"premise": "The woman tolerated her friend's difficult behavior.", "choice1": "The woman knew her friend was going through a hard time.",
         "choice2": "The woman felt that her friend took advantage of her kindness.", "question": "effect", "idx": 1, "label": 1},
    ],
    "super_glue/wic": [
        {"word": "place", "sentence1": "Do you want to come over to my place later?",
         "sentence2": "A political system with no place for the less prominent groups.",
         "start1": 31, "start2": 27, "end1": 36, "end2": 32, "idx": 0, "label": 0},
        {"word": "carry", "sentence1": "You must carry your camping gear.", "sentence2": "Sound carries well over water.",
         "start1": 9, "start2": 6, "end1": 14, "end2": 13, "idx": 1, "label": 1},
    ],
    "super_glue/wsc.fixed": [
        {"text": "Mark told Pete many lies about himself, which Pete included in his book. He should have been more skeptical.",
         "span1_index": 0, "span2_index": 13, "span1_text": "Mark", "span2_text": "He", "idx": 0, "label": 0},
        {"text": "The trophy doesn't fit into the brown suitcase because it is too large.",
         "span1_index": 1, "span2_index": 9, "span1_text": "The trophy", "span2_text": "it", "idx": 1, "label": 1},
    ],
    "anli": [
        {"uid": "0fd0abfb-659e-4453-b196-c3a64d2d8267",
         "premise": "The Parma trolleybus system forms part of the public transport network of the city and comune of Parma, in Italy.",
         "hypothesis": "The trolleybus system has over 2 urban routes", "label": 0, "reason": ""},
        {"uid": "7ed72ff4-40b7-4f8a-b1b9-6c612aa62c84",
         "premise": "Alexandra Lendon Bastedo (9 March 1946 - 12 January 2014) was a British actress.",
         "hypothesis": "Sasha Bastedo was born after 1946.", "label": 2, "reason": "She was born in 1946."},
        {"uid": "x", "premise": "It rained.", "hypothesis": "It was wet.", "label": 1, "reason": "weather ||| odd"},
    ],
    "hellaswag": [
        {"ind": 24, "activity_label": "Roof shingle removal",
         "ctx_a": "A man is sitting on a roof.", "ctx_b": "he",
         "ctx": "A man is sitting on a roof. he",
         "endings": ["is using wrap to wrap a pair of skis.", "is ripping level tiles off.",
                     "is holding a rubik's cube.", "starts pulling up roofing on a roof."],
         "source_id": "activitynet~v_-JhWjGDPHMY", "split": "val", "split_type": "indomain", "label": "3"},
        {"ind": 92, "activity_label": "Clean and jerk",
         "ctx_a": "A lady walks to a barbell. She bends down and grabs the pole.", "ctx_b": "the lady",
         "ctx": "A lady walks to a barbell. She bends down and grabs the pole. the lady",
         "endings": ["swings and lands in her arms.", "pulls the barbell forward.",
                     "pulls a rope attached to the barbell.", "stands and lifts the weight over her head."],
         "source_id": "activitynet~v_-lJS58hyo1c", "split": "val", "split_type": "zeroshot", "label": "3"},
    ],
    "story_cloze/2016": [
        {"story_id": "138d5bfb-05cc-41e3-bf2c-fa85ebad14e2",
         "input_sentence_1": "Rick grew up in a troubled household.",
         "input_sentence_2": "He never found good support in family, and turned to gangs.",
         "input_sentence_3": "It wasn't long before Rick got shot in a robbery.",
         "input_sentence_4": "The incident caused him to turn a new leaf.",
         "sentence_quiz1": "He is happy now.", "sentence_quiz2": "He joined a gang.", "answer_right_ending": 1},
        {"story_id": "bff9f820-9605-4875-b9af-fe6f14d04256",
         "input_sentence_1": "Karen was assigned a roommate her first year of college.",
         "input_sentence_2": "Their first meeting went well.",
         "input_sentence_3": "Karen went to her roommate's room to say hi.",
         "input_sentence_4": "They talked about their majors.",
         "sentence_quiz1": "Karen hated her roommate.", "sentence_quiz2": "Karen and her roommate became friends.",
         "answer_right_ending": 2},
    ],
    "winogrande/winogrande_xl": [
        {"sentence": "Sarah was a much better surgeon than Maria so _ always got the harder cases.",
         "option1": "Sarah", "option2": "Maria", "answer": "1"},
        {"sentence": "The cat stayed away from the dog because _ was scared.",
         "option1": "cat", "option2": "dog", "answer": "1"},
        {"sentence": "I poured water from the bottle into the cup until _ was full.",
         "option1": "bottle", "option2": "cup", "answer": "2"},
    ],
    "super_glue/boolq": [
        {"question": "is windows movie maker part of windows essentials",
         "passage": "Windows Movie Maker is a discontinued video editing software by Microsoft. It was part of Windows Essentials.",
         "idx": 0, "label": 1},
        {"question": "can you drink alcohol at 18 in the us", "passage": "The legal drinking age in the United States is 21.",
         "idx": 1, "label": 0},
    ],
    "super_glue/multirc": [
        {"paragraph": "While this process moved along, diplomacy continued its rounds. Direct pressure on the Taliban had proved unsuccessful.",
         "question": "What did the diplomacy attempt?", "answer": "Pressure on the Taliban",
         "idx": {"paragraph": 0, "question": 0, "answer": 0}, "label": 1},
        {"paragraph": "Sam bought apples and pears at the market.", "question": "What did Sam buy?",
         "answer": "Bananas", "idx": {"paragraph": 1, "question": 0, "answer": 1}, "label": 0},
    ],
    "super_glue/record": [
        {"passage": "The harrowing stories of women and children locked up for so-called 'moral crimes' in Afghanistan's notorious female prison have been revealed.\n@highlight\nLost for words as she turned to the camera\n@highlight\nThe prison holds women from Kabul",
         "query": "Now @placeholder is calling for their release.", "entities": ["Afghanistan", "Kabul", "Lost"],
         "entity_spans": {"text": ["Afghanistan", "Kabul", "Lost"], "start": [96, 180, 120], "end": [107, 185, 124]},
         "answers": ["Kabul"], "idx": {"passage": 0, "query": 0}},
    ],
    "piqa": [
        {"goal": "How do I ready a guinea pig cage for its new occupants?",
         "sol1": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped paper strips.",
         "sol2": "Provide the guinea pig with a cage full of a few inches of bedding made of ripped jeans material.",
         "label": 0},
        {"goal": "To cut a pipe,", "sol1": "use a spoon.", "sol2": "use a hacksaw.", "label": 1},
    ],
    "cos_e/v1.11": [
        {"id": "6b819727eb8a670df26a7ffad036c119", "question": "\"There are 10 apples on an apple tree.  Three fall off.  Now there are X apples.\"  What is this an example of?",
         "choices": ["park", "coloring book", "garden center", "math problem", "gravity"], "answer": "math problem",
         "abstractive_explanation": "webmath is designed to help you solve", "extractive_explanation": "\"there are 10 apples on an apple tree.\""},
    ],
    "imdb": [
        {"text": "I rented I AM CURIOUS-YELLOW from my video store because of all the controversy that surrounded it.", "label": 0},
        {"text": "A wonderful little production. <br /><br />The filming technique is very unassuming.", "label": 1},
    ],
    "ag_news": [
        {"text": "Wall St. Bears Claw Back Into the Black (Reuters) Reuters - Short-sellers are seeing green again.", "label": 2},
        {"text": "Phelps wins gold again in the pool.", "label": 1},
    ],
    "glue/mrpc": [
        {"sentence1": "Amrozi accused his brother , whom he called \" the witness \" , of deliberately distorting his evidence .",
         "sentence2": "Referring to him as only \" the witness \" , Amrozi accused his brother of deliberately distorting his evidence .",
         "label": 1, "idx": 0},
        {"sentence1": "Yucaipa owned Dominick 's before selling the chain to Safeway in 1998 for $ 2.5 billion .",
         "sentence2": "Yucaipa bought Dominick 's in 1995 for $ 693 million and sold it to Safeway for $ 1.8 billion in 1998 .",
         "label": 0, "idx": 1},
    ],
    "glue/sst2": [
        {"sentence": "hide new secretions from the parental units ", "label": 0, "idx": 0},
        {"sentence": "that loves its characters and communicates something rather beautiful about human nature ", "label": 1, "idx": 1},
    ],
    "glue/qqp": [
        {"question1": "How is the life of a math student?", "question2": "Which level of prepration is enough?", "label": 0, "idx": 0},
    ],
    "super_glue/wic_long": [],
}
