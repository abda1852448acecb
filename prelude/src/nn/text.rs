//! Text classification: a word tokenizer with a vocabulary learned from the training texts,
//! and an embedding → LSTM → linear classifier over token ids.

use super::Linear;
use super::{LayerInfo, Network, OutputHead, Parameters, Summary};
use anyhow::{bail, Result};
use candle_core::{DType, Device, IndexOp, Module, Tensor};
use candle_nn::rnn::{LSTMConfig, LSTM, RNN};
use candle_nn::Embedding;
use std::collections::HashMap;

/// Id 0 pads short texts, id 1 stands for words outside the vocabulary.
pub const PAD: u32 = 0;
pub const UNKNOWN: u32 = 1;

/// Lower-cased words (letters, digits and apostrophes) → ids, with a vocabulary of the most
/// frequent training words. Texts become `length` ids, padded or cut on the left so that the
/// last position always holds the text's last word (what a recurrent model reads last).
///
/// ```
/// use trainbook::prelude::*;
/// let texts = vec!["Great phone, great battery".to_string(), "Bad phone".to_string()];
/// let tokenizer = Tokenizer::from_texts(&texts, 100, 4);
/// assert_eq!(tokenizer.vocabulary_size(), 2 + 4); // pad, unknown, great, phone, bad, battery
/// assert_eq!(tokenizer.encode("bad battery!"), vec![0, 0, tokenizer.id("bad"), tokenizer.id("battery")]);
/// assert_eq!(tokenizer.encode("awful")[3], 1); // unknown
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tokenizer {
    words: Vec<String>,
    ids: HashMap<String, u32>,
    /// Ids per encoded text.
    pub length: usize,
}

impl Tokenizer {
    /// The words of a text, lower-cased.
    pub fn words(text: &str) -> Vec<String> {
        text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .collect()
    }

    /// Learns a vocabulary of at most `max_words` words (most frequent first; ties
    /// alphabetical) from training texts; encodes to `length` ids.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let texts = vec!["good film".to_string(), "bad film".to_string()];
    /// let tokenizer = Tokenizer::from_texts(&texts, 10, 4);
    /// assert_eq!(tokenizer.encode("good film"), tokenizer.encode("GOOD film!"));
    /// ```
    pub fn from_texts(texts: &[String], max_words: usize, length: usize) -> Tokenizer {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for text in texts {
            for word in Tokenizer::words(text) {
                *counts.entry(word).or_default() += 1;
            }
        }
        let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let mut words = vec!["<pad>".to_string(), "<unknown>".to_string()];
        words.extend(ranked.into_iter().take(max_words).map(|(w, _)| w));
        let ids = words
            .iter()
            .enumerate()
            .map(|(i, w)| (w.clone(), i as u32))
            .collect();
        Tokenizer {
            words,
            ids,
            length: length.max(1),
        }
    }

    /// Words known, plus the pad and unknown ids.
    pub fn vocabulary_size(&self) -> usize {
        self.words.len()
    }

    /// The id of a word (UNKNOWN when it is not in the vocabulary).
    pub fn id(&self, word: &str) -> u32 {
        self.ids
            .get(&word.to_lowercase())
            .copied()
            .unwrap_or(UNKNOWN)
    }

    /// The word of an id.
    pub fn word(&self, id: u32) -> Option<&str> {
        self.words.get(id as usize).map(String::as_str)
    }

    /// A text as `length` ids (left-padded with PAD, or its last `length` words).
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let ids: Vec<u32> = Tokenizer::words(text).iter().map(|w| self.id(w)).collect();
        let keep = ids.len().min(self.length);
        let mut out = vec![PAD; self.length - keep];
        out.extend_from_slice(&ids[ids.len() - keep..]);
        out
    }

    /// Texts as a (texts, length) U32 tensor.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let tokenizer = Tokenizer::from_texts(&["a b c".to_string()], 10, 5);
    /// let ids = tokenizer.encode_all(&["a b".to_string(), "c".to_string()], &Device::Cpu).unwrap();
    /// assert_eq!(ids.dims(), &[2, 5]);
    /// ```
    pub fn encode_all(&self, texts: &[String], device: &Device) -> Result<Tensor> {
        let ids: Vec<u32> = texts.iter().flat_map(|t| self.encode(t)).collect();
        Ok(Tensor::from_vec(ids, (texts.len(), self.length), device)?)
    }

    /// Texts as a (texts, vocabulary) F32 tensor of word presence (1 where the text has the
    /// word, anywhere in it; padding and unknown words left out): the bag of words that a
    /// linear model reads, blind to word order.
    ///
    /// ```
    /// use trainbook::prelude::*;
    /// let tokenizer = Tokenizer::from_texts(&["not bad".to_string(), "bad".to_string()], 10, 4);
    /// let bags = tokenizer.bag_of_words(&["bad not".to_string(), "not bad".to_string()], &Device::Cpu).unwrap();
    /// let rows = bags.to_vec2::<f32>().unwrap();
    /// assert_eq!(rows[0], rows[1]); // the order is gone
    /// assert_eq!(rows[0].iter().sum::<f32>(), 2.0);
    /// ```
    pub fn bag_of_words(&self, texts: &[String], device: &Device) -> Result<Tensor> {
        let size = self.vocabulary_size();
        let mut bags = vec![0f32; texts.len() * size];
        for (row, text) in texts.iter().enumerate() {
            for word in Tokenizer::words(text) {
                let id = self.id(&word);
                if id > UNKNOWN {
                    bags[row * size + id as usize] = 1.0;
                }
            }
        }
        Ok(Tensor::from_vec(bags, (texts.len(), size), device)?)
    }
}

/// The shape of a [`TextClassifier`].
#[derive(Clone, Debug)]
pub struct TextClassifierConfig {
    pub vocabulary: usize,
    pub length: usize,
    pub embedding: usize,
    pub hidden: usize,
    pub classes: usize,
    pub seed: u64,
    pub device: Device,
}

impl TextClassifierConfig {
    /// For texts encoded by `tokenizer`, into `classes`; embedding 32 and LSTM 64 by default.
    pub fn new(tokenizer: &Tokenizer, classes: usize) -> TextClassifierConfig {
        TextClassifierConfig {
            vocabulary: tokenizer.vocabulary_size(),
            length: tokenizer.length,
            embedding: 32,
            hidden: 64,
            classes,
            seed: 0,
            device: super::default_device(),
        }
    }

    /// Embedding width and LSTM units.
    pub fn sizes(mut self, embedding: usize, hidden: usize) -> TextClassifierConfig {
        self.embedding = embedding;
        self.hidden = hidden;
        self
    }

    pub fn seed(mut self, seed: u64) -> TextClassifierConfig {
        self.seed = seed;
        self
    }

    pub fn device(mut self, device: &Device) -> TextClassifierConfig {
        self.device = device.clone();
        self
    }
}

/// Token ids → embedding → LSTM → linear on the last step; takes (n, length) U32 batches from
/// [`Tokenizer::encode_all`].
///
/// ```
/// use trainbook::prelude::*;
/// let texts = vec!["good".to_string(), "bad".to_string()];
/// let tokenizer = Tokenizer::from_texts(&texts, 10, 3);
/// let model = TextClassifier::new(TextClassifierConfig::new(&tokenizer, 2).device(&Device::Cpu)).unwrap();
/// let ids = tokenizer.encode_all(&texts, &Device::Cpu).unwrap();
/// assert_eq!(model.predict(&ids).unwrap().len(), 2);
/// ```
pub struct TextClassifier {
    config: TextClassifierConfig,
    params: Parameters,
    embedding: Embedding,
    lstm: LSTM,
    output: Linear,
}

impl TextClassifier {
    pub fn new(config: TextClassifierConfig) -> Result<TextClassifier> {
        if config.vocabulary < 3 || config.classes < 2 {
            bail!(
                "a text classifier needs a vocabulary of at least one word and 2 classes (got {} ids, {} classes)",
                config.vocabulary,
                config.classes
            );
        }
        let params = Parameters::new(config.seed, &config.device);
        let vb = params.builder();
        let embedding =
            candle_nn::embedding(config.vocabulary, config.embedding, vb.pp("embedding"))?;
        let lstm = candle_nn::lstm(
            config.embedding,
            config.hidden,
            LSTMConfig::default(),
            vb.pp("rnn"),
        )?;
        let output = Linear::new(config.hidden, config.classes, vb.pp("output"))?;
        Ok(TextClassifier {
            config,
            params,
            embedding,
            lstm,
            output,
        })
    }
}

impl Network for TextClassifier {
    fn forward_t(&self, input: &Tensor, _train: bool) -> candle_core::Result<Tensor> {
        let vectors = self.embedding.forward(input)?;
        let states = self.lstm.states_to_tensor(&self.lstm.seq(&vectors)?)?;
        let last = states.i((.., self.config.length - 1, ..))?.contiguous()?;
        self.output.forward(&last)
    }

    fn parameters(&self) -> &Parameters {
        &self.params
    }

    fn head(&self) -> OutputHead {
        OutputHead::Classes(self.config.classes)
    }

    fn input_shape(&self) -> Vec<usize> {
        vec![self.config.length]
    }

    fn input_dtype(&self) -> DType {
        DType::U32
    }

    fn summary(&self) -> Summary {
        let c = &self.config;
        Summary {
            model: "Text classifier (LSTM)".into(),
            input: vec![c.length],
            layers: vec![
                LayerInfo {
                    name: "embedding".into(),
                    kind: format!("Embedding({} words → {})", c.vocabulary, c.embedding),
                    output: vec![c.length, c.embedding],
                    params: c.vocabulary * c.embedding,
                },
                LayerInfo {
                    name: "rnn".into(),
                    kind: format!("LSTM({} → {})", c.embedding, c.hidden),
                    output: vec![c.length, c.hidden],
                    params: 4 * c.hidden * (c.embedding + c.hidden + 2),
                },
                LayerInfo {
                    name: "output".into(),
                    kind: format!("Linear({} → {}) on the last word", c.hidden, c.classes),
                    output: vec![c.classes],
                    params: c.hidden * c.classes + c.classes,
                },
            ],
            total: self.params.count(),
            trainable: self.params.trainable_count(),
        }
    }
}
